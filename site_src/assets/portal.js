/* Filter the products table by classification, without leaving the page. Without JavaScript
   the filter links lead to each classification's own page, which lists the same products. */
(function () {
  function setUp() {
    var links = document.querySelectorAll(".portal-filter a[data-filter]");
    var rows = document.querySelectorAll(".portal-products tbody tr");
    if (!links.length || !rows.length) return;
    links.forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var code = link.getAttribute("data-filter");
        rows.forEach(function (row) {
          var badge = row.querySelector("[data-classification]");
          row.hidden = Boolean(code) && !(badge && badge.getAttribute("data-classification") === code);
        });
        links.forEach(function (other) {
          other.setAttribute("aria-current", other === link ? "true" : "false");
        });
      });
    });
  }
  // Material's instant navigation swaps pages without reloading: set up again on each one.
  if (typeof document$ !== "undefined") {
    document$.subscribe(setUp);
  } else {
    document.addEventListener("DOMContentLoaded", setUp);
  }
})();
