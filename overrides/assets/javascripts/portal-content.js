/* Material for MkDocs' inline content scripts, as a static file for the CSP: restore the
   linked content tab, and open the tab a link points to. */
(function () {
  if (document.currentScript && document.currentScript.hasAttribute("data-tabs-link")) {
    var tabs = __md_get("__tabs");
    if (Array.isArray(tabs)) {
      for (var set of document.querySelectorAll(".tabbed-set")) {
        var labels = set.querySelector(".tabbed-labels");
        search: for (var tab of tabs) {
          for (var label of labels.getElementsByTagName("label")) {
            if (label.innerText.trim() === tab) {
              document.getElementById(label.htmlFor).checked = true;
              break search;
            }
          }
        }
      }
    }
  }
  var target = document.getElementById(location.hash.slice(1));
  if (target && target.name) target.checked = target.name.startsWith("__tabbed_");
})();
