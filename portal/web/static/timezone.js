// The forms' time zone: pre-select the browser's own (still editable), and show each date and
// time entered back in the provider's zone, so the submitter sees the instant we will record.
// A static file: the Content Security Policy allows no inline script.
(function () {
  "use strict";

  function offsetMinutes(date, zone) {
    var parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    }).formatToParts(date);
    var v = {};
    parts.forEach(function (p) { v[p.type] = p.value; });
    var asUTC = Date.UTC(+v.year, v.month - 1, +v.day, +v.hour, +v.minute, +v.second);
    return (asUTC - date.getTime()) / 60000;
  }

  // "2026-11-26T08:00" read on the clock of `zone`, as an instant.
  function instant(local, zone) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local || "");
    if (!m) { return null; }
    var wall = Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5]);
    var t = wall - offsetMinutes(new Date(wall), zone) * 60000;
    t = wall - offsetMinutes(new Date(t), zone) * 60000;
    return new Date(t);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.querySelector('select[name="timezone"]');
    if (!select) { return; }
    var provider = select.value;  // the form's default: the provider's zone
    var fresh = !document.querySelector(".error-summary");
    var browser = "";
    try { browser = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { browser = ""; }
    if (fresh && browser && select.querySelector('option[value="' + browser + '"]')) {
      select.value = browser;
    }
    var shown = new Intl.DateTimeFormat("en-GB", {
      timeZone: provider, dateStyle: "full", timeStyle: "short"
    });
    var inputs = document.querySelectorAll("input.input--datetime");
    inputs.forEach(function (input) {
      var out = document.createElement("p");
      out.className = "hint datetime-echo";
      out.setAttribute("aria-live", "polite");
      input.insertAdjacentElement("afterend", out);
      function update() {
        var when = instant(input.value, select.value);
        out.textContent = when ? "That is " + shown.format(when) + " in " + provider + " time." : "";
      }
      input.addEventListener("input", update);
      select.addEventListener("change", update);
      update();
    });
  });
}());
