/* modelboard ui: draws the figures of each section with plotly.js, keeps a running run's
   page up to date, and builds the column chooser's value. No stored text is ever inserted
   as HTML: figures come as JSON and text goes in through textContent. */
(function () {
  "use strict";
  var config = { responsive: true, displaylogo: false };

  function figuresOf(section) {
    var holder = section.querySelector(":scope > script.figures");
    return holder ? JSON.parse(holder.textContent) : {};
  }

  function addMissing(section, figures) {
    var curves = section.querySelector("[data-role=curves]");
    Object.keys(figures).forEach(function (key) {
      if (key.indexOf("curve-") !== 0 || !curves) return;
      var found = Array.prototype.some.call(section.querySelectorAll("[data-figure]"),
        function (div) { return div.getAttribute("data-figure") === key; });
      if (found) return;
      var div = document.createElement("div");
      div.className = "chart";
      div.setAttribute("data-figure", key);
      curves.appendChild(div);
    });
  }

  function draw(section, figures, react) {
    if (react) addMissing(section, figures);
    section.querySelectorAll("[data-figure]").forEach(function (div) {
      if (div.closest("section") !== section) return;
      var figure = figures[div.getAttribute("data-figure")];
      if (!figure) return;
      (react ? Plotly.react : Plotly.newPlot)(div, figure.data, figure.layout, config);
    });
  }

  function poll(section) {
    var url = section.getAttribute("data-live");
    var status = section.querySelector("[data-role=status]");
    var note = section.querySelector("[data-role=live-note]");
    function tick() {
      fetch(url, { cache: "no-store" })
        .then(function (response) { return response.json(); })
        .then(function (live) {
          draw(section, live.figures, true);
          status.textContent = live.status;
          status.className = "status st-" + live.status;
          section.setAttribute("data-status", live.status);
          section.setAttribute("data-points", String(live.points));
          if (live.status === "running") {
            window.setTimeout(tick, 1500);
          } else if (live.status === "crashed") {
            note.textContent = "crashed: the run's process stopped sending heartbeats; no more updates";
          } else {
            note.textContent = "the run ended (" + live.status + "); no more updates";
          }
        })
        .catch(function () {
          note.textContent = "lost the connection to the server; retrying";
          window.setTimeout(tick, 5000);
        });
    }
    window.setTimeout(tick, 1500);
  }

  function columnChooser() {
    var form = document.querySelector("#column-chooser form");
    if (!form) return;
    form.addEventListener("submit", function () {
      var chosen = [];
      form.querySelectorAll("input.column-choice:checked").forEach(function (box) {
        chosen.push(box.value);
      });
      form.querySelector("#columns-value").value = chosen.join(",");
    });
  }

  function start() {
    document.querySelectorAll("section").forEach(function (section) {
      var figures = figuresOf(section);
      if (Object.keys(figures).length) draw(section, figures, false);
      if (section.hasAttribute("data-live")) poll(section);
    });
    columnChooser();
  }

  if (window.modelboardReady) { window.modelboardReady.then(start); }
  else if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
