/* The staffing forecast page (SPEC G4, docs/forecast.md): sends the form's fields to
   POST /api/v1/forecast/ under the API's names and draws the answer. The charts are inline SVG
   drawn here (no library). Strings come translated from the page's data-msg-* attributes;
   data is set with textContent, never innerHTML. */
(function () {
  "use strict";

  var root = document.querySelector("[data-forecast]");
  if (!root) return;
  var form = root.querySelector("[data-forecast-form]");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");
  var rows = form.querySelector("[data-roster-rows]");
  var template = form.querySelector("[data-roster-template]");
  var status = form.querySelector("[data-forecast-status]");
  var runButton = form.querySelector("[data-forecast-run]");
  var lastSuggestion = null;
  var SVGNS = "http://www.w3.org/2000/svg";

  function msg(name, values) {
    var key = "msg" + name.replace(/(^|-)([a-z0-9])/g, function (_m, _d, c) {
      return c.toUpperCase();
    });
    var text = root.dataset[key] || name;
    Object.keys(values || {}).forEach(function (k) {
      text = text.split("%(" + k + ")s").join(String(values[k]));
    });
    return text;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      node.setAttribute(k, String(attrs[k]));
    });
    return node;
  }

  function checked(name) {
    var input = form.querySelector("input[name=" + name + "]:checked");
    return input ? input.value : "";
  }

  function intOf(input) {
    return input && input.value.trim() !== "" ? Number(input.value) : null;
  }

  // --- The form -------------------------------------------------------------------------------

  function toggle() {
    var arrivals = checked("arrivals");
    form.querySelectorAll("[data-when]").forEach(function (part) {
      part.hidden = part.getAttribute("data-when") !== arrivals;
    });
    var roster = checked("roster_source");
    form.querySelectorAll("[data-when-roster]").forEach(function (part) {
      part.hidden = part.getAttribute("data-when-roster") !== roster;
    });
  }

  function addRow(values) {
    var row = template.content.firstElementChild.cloneNode(true);
    values = values || {};
    Object.keys(values).forEach(function (name) {
      var input = row.querySelector("[name=" + name + "]");
      if (input && values[name] !== null && values[name] !== undefined) input.value = values[name];
    });
    var agent = row.querySelector("[name=agent]");
    function named() {
      var isAccount = agent.value !== "";
      row.querySelector("[name=count]").disabled = isAccount;
      row.querySelector("[name=group]").disabled = isAccount;
    }
    agent.addEventListener("change", named);
    named();
    row.querySelector("[data-roster-remove]").addEventListener("click", function () {
      row.remove();
    });
    rows.appendChild(row);
    return row;
  }

  function selectedHours() {
    var select = form.querySelector("select[name=date]");
    var option = select && select.selectedOptions[0];
    return option && option.dataset.hours ? JSON.parse(option.dataset.hours) : null;
  }

  function curveInputs() {
    return Array.prototype.slice.call(form.querySelectorAll("input[name=curve]"));
  }

  function body() {
    var data = {};
    var arrivals = checked("arrivals");
    var day = form.querySelector("select[name=date]").value;
    var rosterSource = checked("roster_source");
    if (arrivals === "day" || rosterSource === "recorded") data.date = day;
    if (arrivals === "curve") {
      data.curve = curveInputs().map(function (input) {
        return intOf(input) || 0;
      });
    }
    var handling = { distribution: form.querySelector("[name=distribution]").value };
    if (handling.distribution !== "recorded") {
      handling.mean_seconds = intOf(form.querySelector("[name=mean_seconds]"));
      if (handling.distribution === "lognormal") {
        var sd = intOf(form.querySelector("[name=sd_seconds]"));
        if (sd !== null) handling.sd_seconds = sd;
      }
    } else if (arrivals === "curve" && day) {
      handling.date = day;
    }
    data.handling = handling;
    if (rosterSource === "rows") {
      data.roster = Array.prototype.map.call(rows.querySelectorAll("[data-roster-row]"), function (row) {
        var shift = {
          from: row.querySelector("[name=from]").value.trim(),
          to: row.querySelector("[name=to]").value.trim()
        };
        var agent = row.querySelector("[name=agent]").value;
        if (agent) {
          shift.agent = Number(agent);
        } else {
          shift.count = intOf(row.querySelector("[name=count]")) || 1;
          var group = row.querySelector("[name=group]").value;
          if (group) shift.group = Number(group);
        }
        var most = intOf(row.querySelector("[name=max_concurrent]"));
        if (most !== null) shift.max_concurrent = most;
        return shift;
      });
    }
    var percent = intOf(form.querySelector("[name=target_percent]"));
    data.target_rate = percent === null ? 0.8 : percent / 100;
    data.suggest = form.querySelector("[name=suggest]").checked;
    data.seed = intOf(form.querySelector("[name=seed]")) || 0;
    return data;
  }

  function showErrors(payload) {
    var box = form.querySelector("[data-forecast-errors]");
    var list = form.querySelector("[data-forecast-error-list]");
    list.textContent = "";
    form.querySelectorAll(".is-invalid").forEach(function (part) {
      part.classList.remove("is-invalid");
    });
    var errors = (payload && payload.errors) || {};
    Object.keys(errors).forEach(function (field) {
      errors[field].forEach(function (text) {
        list.appendChild(el("li", "", field + ": " + text));
      });
      form.querySelectorAll("[data-field~=" + field + "]").forEach(function (part) {
        part.classList.add("is-invalid");
      });
    });
    if (payload && payload.detail) list.appendChild(el("li", "", payload.detail));
    box.hidden = !list.children.length;
    if (!box.hidden) box.focus();
  }

  function run(event) {
    if (event) event.preventDefault();
    showErrors(null);
    runButton.disabled = true;
    status.className = "form-feedback";
    status.textContent = msg("running");
    fetch(root.dataset.api, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrf ? csrf.value : ""
      },
      body: JSON.stringify(body())
    })
      .then(function (response) {
        return response.json().then(
          function (data) {
            return { ok: response.ok, data: data };
          },
          function () {
            return { ok: false, data: null };
          }
        );
      })
      .then(function (result) {
        if (!result.ok) {
          status.className = "form-feedback is-error";
          status.textContent = msg("failed");
          if (result.data) showErrors(result.data);
          return;
        }
        status.className = "form-feedback is-ok";
        status.textContent = msg("done");
        render(result.data);
      })
      .catch(function () {
        status.className = "form-feedback is-error";
        status.textContent = msg("failed");
      })
      .then(function () {
        runButton.disabled = false;
      });
  }

  // --- Charts ---------------------------------------------------------------------------------

  /* The smallest "nice" step (1, 2, 2.5 or 5 times a power of ten) of four that reach value. */
  function niceStep(value) {
    if (!(value > 0)) return 0.25;
    var raw = value / 4;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power >= raw) return steps[i] * power;
    }
    return 10 * power;
  }

  function label(value, percent) {
    if (percent) return Math.round(value * 100) + "%";
    return String(Math.round(value * 100) / 100);
  }

  /* The width of one chart in CSS pixels: the charts' box, split in two columns on wide
     screens (forecast.css); the SVG is drawn at that width, so its text keeps its size. */
  function chartWidth(target) {
    var columns = window.matchMedia("(min-width: 960px)").matches ? 2 : 1;
    var box = target.clientWidth || 640;
    return Math.max(280, Math.min(720, Math.floor((box - (columns - 1) * 16) / columns)));
  }

  /* A line chart of per-bucket series: [{label, values, kind}], kind a CSS modifier; null
     values break the line. opts: {percent, max, target}. */
  function lineChart(title, times, series, opts) {
    opts = opts || {};
    var width = opts.width || 640, height = 220, left = 46, right = 12, top = 10, bottom = 26;
    var n = times.length;
    var highest = 0;
    series.forEach(function (s) {
      s.values.forEach(function (v) {
        if (v !== null && v > highest) highest = v;
      });
    });
    if (opts.target) highest = Math.max(highest, opts.target);
    var max = opts.max || 4 * niceStep(highest);
    function x(i) {
      return left + ((width - left - right) * (i + 0.5)) / n;
    }
    function y(v) {
      return top + (height - top - bottom) * (1 - Math.min(v, max) / max);
    }
    var figure = el("figure", "forecast-chart");
    figure.appendChild(el("figcaption", "forecast-chart__title", title));
    var chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      role: "img",
      "aria-label": title,
      class: "forecast-chart__svg"
    });
    for (var g = 0; g <= 4; g++) {
      var value = (max * g) / 4;
      chart.appendChild(svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "forecast-grid" }));
      var tick = svg("text", { x: left - 6, y: y(value) + 4, class: "forecast-axis", "text-anchor": "end" });
      tick.textContent = label(value, opts.percent);
      chart.appendChild(tick);
    }
    var every = Math.max(1, Math.round(n / (width < 420 ? 4 : 8)));
    for (var i = 0; i < n; i += every) {
      var hour = svg("text", { x: x(i), y: height - 8, class: "forecast-axis", "text-anchor": "middle" });
      hour.textContent = times[i];
      chart.appendChild(hour);
    }
    if (opts.target) {
      chart.appendChild(svg("line", {
        x1: left, x2: width - right, y1: y(opts.target), y2: y(opts.target), class: "forecast-target"
      }));
    }
    series.forEach(function (s) {
      var points = [];
      function flush() {
        if (points.length === 1) {
          var p = points[0].split(",");
          chart.appendChild(svg("circle", { cx: p[0], cy: p[1], r: 2.5, class: "forecast-dot forecast-dot--" + s.kind }));
        } else if (points.length) {
          chart.appendChild(svg("polyline", { points: points.join(" "), class: "forecast-line forecast-line--" + s.kind }));
        }
        points = [];
      }
      s.values.forEach(function (v, i) {
        if (v === null || v === undefined) flush();
        else points.push(x(i).toFixed(1) + "," + y(v).toFixed(1));
      });
      flush();
    });
    figure.appendChild(chart);
    var legend = el("ul", "forecast-legend");
    series.forEach(function (s) {
      var item = el("li", "forecast-legend__item forecast-legend__item--" + s.kind, s.label);
      legend.appendChild(item);
    });
    if (opts.target) legend.appendChild(el("li", "forecast-legend__item forecast-legend__item--target", msg("target")));
    figure.appendChild(legend);
    return figure;
  }

  function pick(buckets, name) {
    return buckets.map(function (b) {
      return b[name];
    });
  }

  function charts(target, buckets, rate) {
    target.textContent = "";
    var width = chartWidth(target);
    var times = buckets.map(function (b) {
      return b.start.slice(11, 16);
    });
    var queue = [
      { label: msg("queue-avg"), values: pick(buckets, "queue_avg"), kind: "a" },
      { label: msg("queue-max"), values: pick(buckets, "queue_max"), kind: "b" }
    ];
    if (buckets.length && buckets[0].recorded) {
      queue.push({
        label: msg("recorded"),
        values: buckets.map(function (b) { return b.recorded.queue_avg; }),
        kind: "c"
      });
    }
    var loads = pick(buckets, "load").map(Number);
    target.appendChild(lineChart(msg("queue"), times, queue, { width: width }));
    target.appendChild(lineChart(msg("waits"), times, [
      { label: msg("p50"), values: pick(buckets, "wait_p50"), kind: "a" },
      { label: msg("p90"), values: pick(buckets, "wait_p90"), kind: "b" }
    ], { width: width }));
    target.appendChild(lineChart(msg("rate"), times, [
      { label: msg("rate"), values: pick(buckets, "rate_2min"), kind: "a" }
    ], { percent: true, max: 1, target: rate, width: width }));
    target.appendChild(lineChart(msg("load"), times, [
      { label: msg("load"), values: pick(buckets, "load"), kind: "a" }
    ], { percent: true, max: Math.max(1, 4 * niceStep(Math.max.apply(null, loads))), width: width }));
  }

  // --- The answer -----------------------------------------------------------------------------

  function percent(value) {
    return value === null || value === undefined ? "–" : Math.round(value * 1000) / 10 + "%";
  }

  function seconds(value) {
    return value === null || value === undefined ? "–" : msg("seconds", { n: value });
  }

  function figures(target, pairs) {
    target.textContent = "";
    pairs.forEach(function (pair) {
      var item = el("div", "forecast-figure");
      item.appendChild(el("dt", "", pair[0]));
      item.appendChild(el("dd", "", pair[1]));
      target.appendChild(item);
    });
  }

  function summaryPairs(s) {
    return [
      [msg("summary-arrivals"), s.arrivals],
      [msg("summary-rate"), percent(s.rate_2min)],
      [msg("summary-worst"), percent(s.worst_hour_rate_2min)],
      [msg("summary-waits"), seconds(s.wait_p50) + " / " + seconds(s.wait_p90)],
      [msg("summary-queue"), s.queue_max],
      [msg("summary-load"), percent(s.load)],
      [msg("summary-hours"), s.agent_hours],
      [msg("summary-unanswered"), s.unanswered]
    ];
  }

  function verdict(badge, met) {
    badge.className = "badge " + (met ? "badge--ok" : "badge--off");
    badge.textContent = met ? msg("met") : msg("not-met");
  }

  function table(target, buckets) {
    target.textContent = "";
    var recorded = buckets.length && buckets[0].recorded;
    var t = el("table", "table forecast-table");
    var head = el("tr");
    [msg("time"), msg("arrivals"), msg("queue-avg"), msg("queue-max"), msg("p50"), msg("p90"), msg("rate"), msg("load")]
      .concat(recorded ? [msg("recorded")] : [])
      .forEach(function (text) {
        var th = el("th", "", text);
        th.scope = "col";
        head.appendChild(th);
      });
    var thead = el("thead");
    thead.appendChild(head);
    t.appendChild(thead);
    var tbody = el("tbody");
    buckets.forEach(function (b) {
      if (!b.arrivals && !b.queue_max && b.load === null) return;
      var tr = el("tr");
      var cells = [b.start.slice(11, 16), b.arrivals, b.queue_avg, b.queue_max, seconds(b.wait_p50),
        seconds(b.wait_p90), percent(b.rate_2min), percent(b.load)];
      if (recorded) cells.push(b.recorded.queue_avg);
      cells.forEach(function (value, i) {
        var cell = el(i ? "td" : "th", i ? "num" : "", value);
        if (!i) cell.scope = "row";
        tr.appendChild(cell);
      });
      tbody.appendChild(tr);
    });
    t.appendChild(tbody);
    target.appendChild(t);
  }

  function groupName(id) {
    if (id === null) return msg("no-group");
    var option = template.content.querySelector("select[name=group] option[value='" + id + "']");
    return option ? option.textContent : String(id);
  }

  function suggestionTable(target, suggestion) {
    target.textContent = "";
    var t = el("table", "table forecast-table");
    var head = el("tr");
    var lines = suggestion.hours.length ? suggestion.hours[0].agents : [];
    [msg("hour")].concat(lines.map(function (line) {
      return lines.length > 1 ? msg("agents") + " · " + groupName(line.group) : msg("agents");
    })).concat([msg("arrivals"), msg("rate")]).forEach(function (text) {
      var th = el("th", "", text);
      th.scope = "col";
      head.appendChild(th);
    });
    var thead = el("thead");
    thead.appendChild(head);
    t.appendChild(thead);
    var tbody = el("tbody");
    suggestion.hours.forEach(function (hour) {
      var staffed = hour.agents.some(function (line) { return line.count; });
      if (!staffed && !hour.arrivals) return;
      var tr = el("tr");
      var th = el("th", "", hour.start.slice(11, 16));
      th.scope = "row";
      tr.appendChild(th);
      hour.agents.forEach(function (line) {
        tr.appendChild(el("td", "num", line.count));
      });
      tr.appendChild(el("td", "num", hour.arrivals));
      tr.appendChild(el("td", "num", percent(hour.rate_2min)));
      tbody.appendChild(tr);
    });
    t.appendChild(tbody);
    target.appendChild(t);
  }

  function render(answer) {
    var section = root.querySelector("[data-forecast-result]");
    section.hidden = false;
    var s = answer.summary;
    verdict(section.querySelector("[data-forecast-verdict]"), s.target_met);
    var note = msg("took", { n: answer.took_ms });
    if (s.replay) {
      note = msg("replay", { mae: s.replay.queue_avg_mae, max: s.replay.queue_avg_max_error }) + " " + note;
    }
    section.querySelector("[data-forecast-note]").textContent = note;
    figures(section.querySelector("[data-forecast-figures]"), summaryPairs(s));
    charts(section.querySelector("[data-forecast-charts]"), answer.buckets, s.target_rate);
    table(section.querySelector("[data-forecast-table]"), answer.buckets);

    var box = root.querySelector("[data-forecast-suggestion]");
    lastSuggestion = answer.suggestion;
    box.hidden = !lastSuggestion;
    if (lastSuggestion) {
      verdict(box.querySelector("[data-suggestion-verdict]"), lastSuggestion.met);
      var pairs = summaryPairs(lastSuggestion.summary);
      pairs.splice(6, 1, [msg("summary-hours"), lastSuggestion.staffed_hours]);
      figures(box.querySelector("[data-suggestion-figures]"), pairs);
      suggestionTable(box.querySelector("[data-suggestion-table]"), lastSuggestion);
      charts(box.querySelector("[data-suggestion-charts]"), lastSuggestion.buckets, lastSuggestion.target_rate);
    }
    section.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  // --- Wiring ---------------------------------------------------------------------------------

  form.querySelectorAll("input[name=arrivals], input[name=roster_source]").forEach(function (input) {
    input.addEventListener("change", toggle);
  });
  form.querySelector("[data-roster-add]").addEventListener("click", function () {
    addRow().querySelector("select").focus();
  });
  var fill = form.querySelector("[data-curve-fill]");
  if (fill) {
    fill.addEventListener("click", function () {
      var hours = selectedHours();
      if (!hours) return;
      curveInputs().forEach(function (input, i) {
        input.value = hours[i] || 0;
      });
    });
  }
  var scale = form.querySelector("[data-curve-scale]");
  if (scale) {
    scale.addEventListener("click", function () {
      var factor = Number(form.querySelector("[data-curve-factor]").value) || 1;
      curveInputs().forEach(function (input) {
        input.value = Math.round((intOf(input) || 0) * factor);
      });
    });
  }
  root.querySelector("[data-suggestion-use]").addEventListener("click", function () {
    if (!lastSuggestion) return;
    rows.textContent = "";
    lastSuggestion.roster.forEach(function (shift) {
      addRow({ count: shift.count, group: shift.group === null ? "" : shift.group, from: shift.from, to: shift.to, max_concurrent: shift.max_concurrent });
    });
    form.querySelector("input[name=roster_source][value=rows]").checked = true;
    toggle();
    form.scrollIntoView({ behavior: "smooth", block: "start" });
  });
  form.addEventListener("submit", run);

  // A first row to start from, and the curve of the latest day as a starting point.
  addRow({ count: 3, from: "09:00", to: "18:00" });
  var hours = selectedHours();
  if (hours) {
    curveInputs().forEach(function (input, i) {
      input.value = hours[i] || 0;
    });
  }
  toggle();
})();
