/* The preview only (`portal preview`), never in a built site: reload this page when the
   preview has built something new, asking the server twice a second. */
(function () {
  var meta = document.querySelector('meta[name="portal-preview-version"]');
  if (!meta) return;
  var shown = meta.getAttribute("content");
  function ask() {
    fetch("/__preview__/status", { cache: "no-store" })
      .then(function (answer) { return answer.json(); })
      .then(function (status) {
        if (String(status.version) !== shown) {
          location.reload();
        } else {
          setTimeout(ask, 500);
        }
      })
      .catch(function () { setTimeout(ask, 2000); }); // the preview was stopped or restarts
  }
  setTimeout(ask, 500);
})();
