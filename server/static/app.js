// fleetscore: small enhancements. Every page works without this file.
(function () {
  "use strict";

  // Collection progress: while a run is queued or running, poll the API
  // and update the panel; when it ends, reload so the figures are new.
  function watchCollection() {
    var box = document.getElementById("collect");
    if (!box) return;
    var text = document.getElementById("collect-text");
    var bar = document.getElementById("collect-progress");
    var button = box.querySelector("button");
    var state = box.getAttribute("data-state");
    if (state !== "running" && state !== "queued") return;
    var sawRunning = state === "running";
    var polls = 0;

    function show(s) {
      if (s.running) {
        sawRunning = true;
        box.setAttribute("data-state", "running");
        text.textContent = "";
        var b = document.createElement("strong");
        b.textContent = "Collecting";
        text.appendChild(b);
        text.appendChild(document.createTextNode(" · " + s.done + " of " + s.total + " tenants" +
          (s.failed ? ", " + s.failed + " failed" : "")));
        bar.hidden = false;
        bar.max = Math.max(s.total, 1);
        bar.value = s.done;
        bar.textContent = s.done + " of " + s.total;
        if (button) button.disabled = true;
      }
    }

    function poll() {
      polls++;
      fetch("/api/v1/collect", { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (s) {
          show(s);
          if (!s.running && (sawRunning || polls > 20)) {
            window.location.reload();
            return;
          }
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 700);
  }

  // Filters that apply as soon as they change; the Apply button stays for
  // keyboard users who prefer it.
  function autoSubmit() {
    var forms = document.querySelectorAll("#action-filters, #collection-filters");
    Array.prototype.forEach.call(forms, function (form) {
      Array.prototype.forEach.call(form.querySelectorAll("select"), function (sel) {
        sel.addEventListener("change", function () { form.submit(); });
      });
    });
  }

  // The overview's search box filters the rows as you type (the server
  // does the same with ?q= when the form is sent). A paged table holds one
  // page of the tenants only: there the search is the server's, across
  // every page, when the form is sent.
  function liveSearch() {
    var input = document.getElementById("q");
    var table = document.getElementById("tenants");
    if (!input || !table || table.hasAttribute("data-paged")) return;
    var rows = table.querySelectorAll("tbody tr.tenant");
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(rows, function (tr) {
        var name = tr.querySelector(".t-name a").textContent.toLowerCase();
        var id = tr.getAttribute("data-tenant");
        var hide = q !== "" && name.indexOf(q) < 0 && id.indexOf(q) < 0;
        tr.hidden = hide;
        var next = tr.nextElementSibling;
        if (next && next.classList.contains("problem")) next.hidden = hide;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    watchCollection();
    autoSubmit();
    liveSearch();
  });
})();
