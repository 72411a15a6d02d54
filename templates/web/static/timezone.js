// On a fresh subscribe form, fill the time-zone box with the browser's own zone.
// Without JavaScript the box keeps the server's default and stays editable.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  if (!zone) {
    return;
  }
  document.querySelectorAll("form[data-fresh] input[data-fill-timezone]").forEach(function (input) {
    input.value = zone;
  });
})();
