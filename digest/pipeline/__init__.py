"""The one place that chains the stages: sources → store → rank → render → send.

- `fetch`: the configured sources → the store → sentence vectors of the new papers.
- `embed`: keeping sentence vectors in the store (papers, topics, whatever is missing).
- `library`: a subscriber's library file → looked up, fetched, stored, liked, embedded.
- `signup`: the double opt-in (store the pending address, mail the confirmation link).
- `compose`: one subscriber's digest (store → rank → render), for a preview.
- `deliver`: the due digests, claim → prepare → send → record.

The CLI, the web pages and the service call these; no other module chains stages. The
package imports nothing here, so each caller loads only the part it uses.
"""
