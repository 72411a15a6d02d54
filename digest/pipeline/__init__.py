"""The one place that chains the stages: sources → store → rank → render → send.

- `fetch`: the configured sources → the store → sentence vectors of the new papers.
- `embed`: keeping sentence vectors in the store (papers, topics, whatever is missing).
- `library`: a subscriber's library file → looked up, fetched, stored, liked, embedded.
- `signup`: the double opt-in (store the pending address, mail the confirmation link).
- `compose`: digests from the store, ranked with the stored vectors (`stored_vectors`) and
  rendered: claimed batches for the delivery, one subscriber's for a preview.
- `deliver`: the due digests, claim → prepare → send → record; `preparers` runs the
  composing in a thread or in helper processes.
- `learning`: what a subscriber's votes taught their ranking, in words (store → rank).

The CLI, the web pages and the service call these; no other module chains stages. The
package itself imports nothing, so each caller loads only the part it uses.
"""
