// The metrics page's charts (SPEC G3), drawn with Chart.js (static/vendor/chartjs, shipped with
// the app: no CDN) from the rows the page embeds, which are the rows of GET /api/v1/metrics/ and
// /metrics/queue/. The tables beside them are the server's; without Chart.js they stay alone.
(function () {
  "use strict";
  var root = document.querySelector("[data-metrics]");
  var source = document.getElementById("metrics-data");
  if (!root || !source || typeof window.Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var Chart = window.Chart;
  var BLUE = "#1f5fbf";
  var GREEN = "#1c7c45";
  var AMBER = "#b26b00";
  var RED = "#b42318";
  var PALETTE = ["#1f5fbf", "#1c7c45", "#b26b00", "#7a3fb0", "#0e7c86", "#b42318", "#5f6b7f", "#c2185b", "#33691e", "#8d6e63"];

  function msg(name) {
    return root.getAttribute("data-msg-" + name) || name;
  }

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false; // the numbers matter, not the motion (and screenshots)
  Chart.defaults.maintainAspectRatio = false;

  // One row per day: the shop's, or the one agent's when the page drills down.
  var agentRows = data.rows.filter(function (row) {
    return row.agent !== null;
  });
  var drill = data.rows.length > 0 && data.rows.every(function (row) {
    return row.agent !== null;
  });
  var days = drill ? data.rows : data.rows.filter(function (row) {
    return row.agent === null;
  });

  var daily = document.getElementById("chart-daily");
  if (daily) {
    var target = data.targets.first_response_2min_rate;
    var datasets = [
      {
        type: "bar",
        label: msg("conversations"),
        data: days.map(function (row) {
          return row.conversations;
        }),
        backgroundColor: BLUE,
        maxBarThickness: 48,
        yAxisID: "count",
        order: 2,
      },
      {
        type: "line",
        label: msg("rate"),
        data: days.map(function (row) {
          return row.first_response_2min_rate === null ? null : Math.round(row.first_response_2min_rate * 1000) / 10;
        }),
        borderColor: GREEN,
        backgroundColor: GREEN,
        pointBackgroundColor: days.map(function (row) {
          return row.targets_met === false ? RED : GREEN;
        }),
        spanGaps: true,
        pointRadius: 4,
        yAxisID: "rate",
        order: 1,
      },
    ];
    if (target !== null) {
      datasets.push({
        type: "line",
        label: msg("target"),
        data: days.map(function () {
          return Math.round(target * 1000) / 10;
        }),
        borderColor: AMBER,
        borderDash: [6, 4],
        pointRadius: 0,
        yAxisID: "rate",
        order: 0,
      });
    }
    new Chart(daily, {
      data: { labels: days.map(function (row) { return row.date; }), datasets: datasets },
      options: {
        scales: {
          count: { type: "linear", position: "left", beginAtZero: true, ticks: { precision: 0 } },
          rate: { type: "linear", position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, ticks: { callback: function (v) { return v + " %"; } } },
        },
      },
    });
  }

  var agents = document.getElementById("chart-agents");
  if (agents) {
    // Per agent over the period, stacked by how it got its buyers (seed 002, question 6).
    var names = [];
    var byAgent = {};
    var reasons = [];
    agentRows.forEach(function (row) {
      if (!byAgent[row.agent]) {
        byAgent[row.agent] = {};
        names.push([row.agent, row.agent_name]);
      }
      Object.keys(row.assign_reasons).forEach(function (reason) {
        byAgent[row.agent][reason] = (byAgent[row.agent][reason] || 0) + row.assign_reasons[reason];
        if (reasons.indexOf(reason) === -1) reasons.push(reason);
      });
    });
    new Chart(agents, {
      type: "bar",
      data: {
        labels: names.map(function (n) { return n[1]; }),
        datasets: reasons.map(function (reason, index) {
          return {
            label: data.reasons[reason] || reason,
            data: names.map(function (n) { return byAgent[n[0]][reason] || 0; }),
            backgroundColor: PALETTE[index % PALETTE.length],
            maxBarThickness: 28,
          };
        }),
      },
      options: {
        indexAxis: "y",
        scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } },
      },
    });
  }

  var queue = document.getElementById("chart-queue");
  if (queue) {
    new Chart(queue, {
      data: {
        labels: data.queue.map(function (row) { return row.date; }),
        datasets: [
          { type: "bar", label: msg("arrivals"), data: data.queue.map(function (row) { return row.arrivals; }), backgroundColor: BLUE, maxBarThickness: 48, yAxisID: "count" },
          { type: "bar", label: msg("left"), data: data.queue.map(function (row) { return row.left_queue; }), backgroundColor: RED, maxBarThickness: 48, yAxisID: "count" },
          {
            type: "line",
            label: msg("avg-wait"),
            data: data.queue.map(function (row) { return row.avg_wait_seconds; }),
            borderColor: AMBER,
            backgroundColor: AMBER,
            spanGaps: true,
            yAxisID: "wait",
          },
        ],
      },
      options: {
        scales: {
          count: { type: "linear", position: "left", beginAtZero: true, ticks: { precision: 0 } },
          wait: { type: "linear", position: "right", beginAtZero: true, suggestedMax: 60, grid: { drawOnChartArea: false } },
        },
      },
    });
  }
})();
