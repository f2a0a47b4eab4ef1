/* hexbatch HTML report: header, canvas timeline and a virtual, sortable, filterable table.
 * Every user string reaches the page through textContent or a checked href, never innerHTML,
 * and the data arrives as JSON, so nothing in a report can become markup or script. */
(function () {
  "use strict";

  var startedAt = window.performance.now();
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var RUNS = DATA.runs;
  var PROJECTS = DATA.projects;
  var ORDER = DATA.status_order;
  var COLOURS = {
    COMPLETED: "#2da44e", ERRORED: "#cf222e", TRIGGER_FAILED: "#82071e", UNKNOWN: "#8250df",
    TIMED_OUT: "#e16f24", KILLED: "#953800", UNABLE_TO_ALLOCATE_KERNEL: "#bf3989",
    CANCELLED: "#6e7781", SKIPPED: "#afb8c1", ALREADY_COMPLETED: "#8fd19e", RUNNING: "#0969da", PENDING: "#54aeff"
  };
  var OTHER_COLOUR = "#8c959f";
  var LANE_H = 8, LANE_GAP = 2, GROUP_HEAD = 18, GROUP_GAP = 6, MAX_LANES = 60, LABEL_W = 0;

  function colour(status) { return Object.prototype.hasOwnProperty.call(COLOURS, status) ? COLOURS[status] : OTHER_COLOUR; }
  function rank(status) { var i = ORDER.indexOf(status); return i < 0 ? ORDER.length - 1.5 : i; }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function safeHref(url) { return typeof url === "string" && /^https?:\/\/[^\s]+$/i.test(url) ? url : null; }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function clock(offsetMs) {
    if (offsetMs === null || offsetMs === undefined) { return "-"; }
    var d = new Date(DATA.t0 + offsetMs);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "-"; }
    if (seconds < 1) { return Math.round(seconds * 1000) + "ms"; }
    if (seconds < 60) { return seconds.toFixed(1) + "s"; }
    var whole = Math.round(seconds);
    if (whole < 3600) { return Math.floor(whole / 60) + "m " + pad(whole % 60) + "s"; }
    return Math.floor(whole / 3600) + "h " + pad(Math.floor(whole % 3600 / 60)) + "m";
  }
  function swatch(status) { var s = el("span", "swatch"); s.style.background = colour(status); return s; }

  /* ---------- header ---------- */
  var filters = { text: "", status: "", project: "" };
  var chips = [];

  function renderHeader() {
    var verdict = document.getElementById("verdict");
    verdict.textContent = DATA.ok ? "ok" : "failed";
    verdict.className = "verdict " + (DATA.ok ? "ok" : "failed");
    document.getElementById("title").textContent = "hexbatch · " + DATA.manifest;
    document.getElementById("facts").textContent =
      RUNS.length + " runs · started " + DATA.started_at + " · finished " + DATA.finished_at +
      " · took " + duration(DATA.duration_s) +
      (DATA.queue ? " · queued " + duration(DATA.queue[0]) + " in total (" + DATA.queue[1] + " attempts)" : "") +
      " · API requests: " +
      Object.keys(DATA.requests).map(function (k) { return k + " " + DATA.requests[k]; }).join(", ");
    var versions = document.getElementById("versions");
    (DATA.versions || []).forEach(function (entry) {
      var item = el("span", entry[2] ? "version changed" : "version", entry[0] + ": version " + entry[1]);
      if (entry[2]) { item.title = "re-published during the batch"; }
      versions.appendChild(item);
    });
    var counts = document.getElementById("counts");
    DATA.counts.forEach(function (pair) {
      var chip = el("button", "chip");
      chip.type = "button";
      chip.setAttribute("aria-pressed", "false");
      chip.dataset.status = pair[0];
      chip.appendChild(swatch(pair[0]));
      chip.appendChild(el("span", null, pair[0]));
      chip.appendChild(el("b", null, pair[1]));
      chip.addEventListener("click", function () {
        var same = filters.status === pair[0];
        statusSelect.value = same ? "" : pair[0];
        setFilter("status", statusSelect.value);
      });
      counts.appendChild(chip);
      chips.push(chip);
    });
    var legend = document.getElementById("legend");
    DATA.counts.forEach(function (pair) {
      var item = el("span");
      item.appendChild(swatch(pair[0]));
      item.appendChild(document.createTextNode(pair[0]));
      legend.appendChild(item);
    });
  }

  /* ---------- filtering and sorting ---------- */
  var statusSelect = document.getElementById("status-filter");
  var projectSelect = document.getElementById("project-filter");
  var search = document.getElementById("search");
  var haystack = RUNS.map(function (r) {
    return [PROJECTS[r.p], r.a, r.s, r.e || "", r.i || "", r.k].join("\u0000").toLowerCase();
  });
  var view = [];
  var sortKey = "status", sortDir = 1;

  var SORT_KEYS = {
    project: function (r) { return PROJECTS[r.p].toLowerCase(); },
    params: function (r) { return r.a.toLowerCase(); },
    status: function (r) { return rank(r.s); },
    attempts: function (r) { return r.n; },
    start: function (r) { return r.t0 === null ? Infinity : r.t0; },
    duration: function (r) { return r.d === null ? -1 : r.d; },
    error: function (r) { return (r.e || "").toLowerCase(); },
    run: function (r) { return r.i || ""; }
  };

  function matches(index) {
    var r = RUNS[index];
    if (filters.project !== "" && String(r.p) !== filters.project) { return false; }
    if (filters.status === "!COMPLETED") { if (r.s === "COMPLETED") { return false; } }
    else if (filters.status !== "" && r.s !== filters.status) { return false; }
    return filters.text === "" || haystack[index].indexOf(filters.text) >= 0;
  }

  function rebuildView() {
    var keyOf = SORT_KEYS[sortKey];
    var keys = RUNS.map(keyOf);
    view = [];
    for (var i = 0; i < RUNS.length; i++) { if (matches(i)) { view.push(i); } }
    view.sort(function (a, b) {
      if (keys[a] < keys[b]) { return -sortDir; }
      if (keys[a] > keys[b]) { return sortDir; }
      return a - b;
    });
    document.getElementById("shown").textContent =
      "showing " + view.length + " of " + RUNS.length + " runs";
    chips.forEach(function (chip) { chip.setAttribute("aria-pressed", String(chip.dataset.status === filters.status)); });
    document.querySelectorAll("#runs th").forEach(function (th) {
      if (th.dataset.key === sortKey) { th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
    tableScroll.scrollTop = 0;
    renderRows(true);
    drawTimeline();
  }

  function setFilter(name, value) { filters[name] = value; rebuildView(); }

  /* ---------- virtual table ---------- */
  var tableScroll = document.getElementById("table-scroll");
  var tbody = document.getElementById("rows");
  var ROW_H = 30, OVERSCAN = 12;
  var lastFirst = -1, lastCount = -1, picked = null;

  function spacer(height) {
    var tr = el("tr", "spacer");
    var td = el("td");
    td.colSpan = 8;
    td.style.height = height + "px";
    tr.appendChild(td);
    return tr;
  }

  function row(index) {
    var r = RUNS[index];
    var tr = el("tr");
    if (index === picked) { tr.className = "picked"; }
    var project = el("td", null, PROJECTS[r.p]); project.title = PROJECTS[r.p];
    var params = el("td", "mono", r.a || "-"); params.title = r.a;
    var statusCell = el("td");
    var status = el("span", "status"); status.appendChild(swatch(r.s)); status.appendChild(el("span", null, r.s));
    statusCell.appendChild(status);
    var error = el("td", null, r.e || ""); if (r.e) { error.title = r.e; }
    var run = el("td", "mono");
    var href = safeHref(r.u);
    if (href) {
      var link = el("a", null, r.i || "open");
      link.href = href; link.target = "_blank"; link.rel = "noopener noreferrer";
      run.appendChild(link);
    } else { run.textContent = r.i || "-"; }
    run.title = r.i || "";
    tr.appendChild(project); tr.appendChild(params); tr.appendChild(statusCell);
    tr.appendChild(el("td", "num", r.n)); tr.appendChild(el("td", "mono", clock(r.t0)));
    tr.appendChild(el("td", "num", duration(r.d))); tr.appendChild(error); tr.appendChild(run);
    return tr;
  }

  function renderRows(force) {
    var visible = Math.ceil(tableScroll.clientHeight / ROW_H) + 2 * OVERSCAN;
    var first = Math.max(0, Math.floor(tableScroll.scrollTop / ROW_H) - OVERSCAN);
    var count = Math.min(visible, view.length - first);
    if (!force && first === lastFirst && count === lastCount) { return; }
    lastFirst = first; lastCount = count;
    var fragment = document.createDocumentFragment();
    fragment.appendChild(spacer(first * ROW_H));
    for (var i = first; i < first + count; i++) { fragment.appendChild(row(view[i])); }
    fragment.appendChild(spacer(Math.max(0, (view.length - first - count) * ROW_H)));
    tbody.replaceChildren(fragment);
  }

  var scrollQueued = false;
  tableScroll.addEventListener("scroll", function () {
    if (scrollQueued) { return; }
    scrollQueued = true;
    window.requestAnimationFrame(function () { scrollQueued = false; renderRows(false); });
  });

  /* ---------- timeline ---------- */
  var axis = document.getElementById("axis");
  var canvas = document.getElementById("timeline");
  var tooltip = document.getElementById("tooltip");
  var span = Math.max(1, DATA.span_ms);
  var groups = [];

  function layoutTimeline() {
    var byProject = PROJECTS.map(function () { return []; });
    var untimed = 0;
    RUNS.forEach(function (r, index) {
      if (r.t0 === null) { untimed += 1; return; }
      byProject[r.p].push(index);
    });
    var y = 0;
    groups = [];
    byProject.forEach(function (indices, p) {
      if (!indices.length) { return; }
      indices.sort(function (a, b) { return RUNS[a].t0 - RUNS[b].t0; });
      var laneEnds = [], lanes = [];
      indices.forEach(function (index) {
        var r = RUNS[index], lane = -1;
        for (var l = 0; l < laneEnds.length; l++) { if (laneEnds[l] <= r.t0) { lane = l; break; } }
        if (lane < 0 && laneEnds.length < MAX_LANES) { lane = laneEnds.length; laneEnds.push(0); lanes.push([]); }
        if (lane < 0) {  /* too many overlapping runs: share the lane that frees up first */
          lane = 0;
          for (var m = 1; m < laneEnds.length; m++) { if (laneEnds[m] < laneEnds[lane]) { lane = m; } }
        }
        laneEnds[lane] = Math.max(laneEnds[lane], r.t1);
        lanes[lane].push(index);
      });
      groups.push({ project: p, top: y, lanes: lanes, count: indices.length });
      y += GROUP_HEAD + lanes.length * (LANE_H + LANE_GAP) + GROUP_GAP;
    });
    canvas.dataset.height = String(Math.max(y, 40));
    document.getElementById("untimed").textContent = untimed
      ? untimed + " run(s) were never triggered and have no bar (see the table)." : "";
  }

  function prepare(target, cssHeight) {
    var ratio = window.devicePixelRatio || 1;
    var width = target.clientWidth || 800;
    target.style.height = cssHeight + "px";
    target.width = Math.round(width * ratio);
    target.height = Math.round(cssHeight * ratio);
    var ctx = target.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { ctx: ctx, width: width };
  }

  function xOf(ms, width) { return LABEL_W + (ms / span) * (width - LABEL_W - 2); }

  function niceStep(ms, target) {
    var raw = ms / target;
    var steps = [1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5];
    for (var i = 0; i < steps.length; i++) { if (steps[i] >= raw) { return steps[i]; } }
    return steps[steps.length - 1];
  }

  function drawAxis() {
    var p = prepare(axis, 24), ctx = p.ctx;
    ctx.clearRect(0, 0, p.width, 24);
    ctx.font = "11px system-ui, sans-serif"; ctx.fillStyle = "#59636e"; ctx.strokeStyle = "#d1d9e0";
    var step = niceStep(span, Math.max(2, Math.floor(p.width / 110)));
    for (var t = 0; t <= span; t += step) {
      var x = xOf(t, p.width);
      ctx.beginPath(); ctx.moveTo(x + 0.5, 16); ctx.lineTo(x + 0.5, 24); ctx.stroke();
      ctx.textAlign = x < 30 ? "left" : (x > p.width - 40 ? "right" : "center");
      ctx.fillText(clock(t) + (t === 0 ? " UTC" : ""), x, 12);
    }
  }

  function drawTimeline() {
    var height = Number(canvas.dataset.height || 40);
    var p = prepare(canvas, height), ctx = p.ctx;
    ctx.clearRect(0, 0, p.width, height);
    ctx.font = "600 12px system-ui, sans-serif";
    var filtering = filters.text !== "" || filters.status !== "" || filters.project !== "";
    groups.forEach(function (g) {
      ctx.fillStyle = "#1f2328"; ctx.textAlign = "left";
      ctx.fillText(PROJECTS[g.project] + "  (" + g.count + ")", 2, g.top + 13);
      g.lanes.forEach(function (lane, l) {
        var y = g.top + GROUP_HEAD + l * (LANE_H + LANE_GAP);
        lane.forEach(function (index) {
          var r = RUNS[index];
          var x0 = xOf(r.t0, p.width), x1 = xOf(r.t1, p.width);
          ctx.globalAlpha = filtering && !matches(index) ? 0.12 : 1;
          ctx.fillStyle = colour(r.s);
          ctx.fillRect(x0, y, Math.max(2, x1 - x0), LANE_H);
          if (r.q) {  /* queued (waiting for a kernel): the same colour, a lighter shade */
            ctx.fillStyle = "rgba(255, 255, 255, 0.55)";
            r.q.forEach(function (q) {
              if (q[0] !== null && q[1] !== null) {
                var q0 = xOf(q[0], p.width), q1 = xOf(q[1], p.width);
                ctx.fillRect(q0, y, Math.max(1, q1 - q0), LANE_H);
              }
            });
          }
          if (r.at && r.at.length > 1) {  /* a tick where each retry began */
            ctx.fillStyle = "#ffffff";
            for (var a = 1; a < r.at.length; a++) {
              if (r.at[a][1] !== null) { ctx.fillRect(xOf(r.at[a][1], p.width), y, 1, LANE_H); }
            }
          }
        });
      });
    });
    ctx.globalAlpha = 1;
  }

  function runAt(x, y) {
    var width = canvas.clientWidth;
    for (var g = 0; g < groups.length; g++) {
      var group = groups[g];
      var lane = Math.floor((y - group.top - GROUP_HEAD) / (LANE_H + LANE_GAP));
      if (lane < 0 || lane >= group.lanes.length) { continue; }
      var indices = group.lanes[lane];
      for (var i = 0; i < indices.length; i++) {  /* widen hits to 3px so short runs can be found */
        var r = RUNS[indices[i]];
        if (x >= xOf(r.t0, width) - 3 && x <= Math.max(xOf(r.t1, width), xOf(r.t0, width) + 2) + 3) { return indices[i]; }
      }
    }
    return null;
  }

  function describe(index) {
    var r = RUNS[index];
    var lines = [PROJECTS[r.p] + (r.a ? " [" + r.a + "]" : ""),
      "status: " + r.s, "started " + clock(r.t0) + " UTC · finished " + clock(r.t1) + " UTC · took " + duration(r.d)];
    if (r.i) { lines.push("run: " + r.i); }
    if (r.q) {
      var queued = r.q.reduce(function (sum, q) { return sum + (q[1] - q[0]); }, 0);
      lines.push("queued: " + duration(queued / 1000));
    }
    if (r.v) { lines.push("project version: " + r.v); }
    if (r.at) {
      r.at.forEach(function (a, n) { lines.push("attempt " + (n + 1) + ": " + (a[0] || "?") + (a[3] ? " – " + a[3] : "")); });
    } else { lines.push("attempts: " + r.n); }
    if (r.e) { lines.push("error: " + r.e); }
    return lines.join("\n");
  }

  canvas.addEventListener("mousemove", function (event) {
    var box = canvas.getBoundingClientRect();
    var index = runAt(event.clientX - box.left, event.clientY - box.top);
    if (index === null) { tooltip.hidden = true; canvas.style.cursor = "crosshair"; return; }
    canvas.style.cursor = "pointer";
    tooltip.textContent = describe(index);
    tooltip.hidden = false;
    var left = Math.min(event.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8);
    var top = event.clientY + 16;
    if (top + tooltip.offsetHeight > window.innerHeight - 8) { top = event.clientY - tooltip.offsetHeight - 10; }
    tooltip.style.left = Math.max(8, left) + "px";
    tooltip.style.top = Math.max(8, top) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tooltip.hidden = true; });
  canvas.addEventListener("click", function (event) {
    var box = canvas.getBoundingClientRect();
    var index = runAt(event.clientX - box.left, event.clientY - box.top);
    if (index === null) { return; }
    picked = index;
    var position = view.indexOf(index);
    if (position < 0) {
      filters = { text: "", status: "", project: "" };
      search.value = ""; statusSelect.value = ""; projectSelect.value = "";
      rebuildView();
      position = view.indexOf(index);
    }
    tableScroll.scrollTop = Math.max(0, position * ROW_H - tableScroll.clientHeight / 3);
    renderRows(true);
  });

  /* ---------- wiring ---------- */
  function fillSelects() {
    DATA.counts.forEach(function (pair) {
      var option = el("option", null, pair[0] + " (" + pair[1] + ")");
      option.value = pair[0];
      statusSelect.appendChild(option);
    });
    PROJECTS.forEach(function (name, p) {
      var option = el("option", null, name);
      option.value = String(p);
      projectSelect.appendChild(option);
    });
  }

  var typing = null;
  search.addEventListener("input", function () {
    window.clearTimeout(typing);
    typing = window.setTimeout(function () { setFilter("text", search.value.trim().toLowerCase()); }, 150);
  });
  statusSelect.addEventListener("change", function () { setFilter("status", statusSelect.value); });
  projectSelect.addEventListener("change", function () { setFilter("project", projectSelect.value); });
  document.querySelectorAll("#runs th").forEach(function (th) {
    th.addEventListener("click", function () {
      if (sortKey === th.dataset.key) { sortDir = -sortDir; } else { sortKey = th.dataset.key; sortDir = 1; }
      rebuildView();
    });
  });
  var resizeQueued = false;
  window.addEventListener("resize", function () {
    if (resizeQueued) { return; }
    resizeQueued = true;
    window.requestAnimationFrame(function () { resizeQueued = false; drawAxis(); drawTimeline(); renderRows(true); });
  });

  renderHeader();
  fillSelects();
  layoutTimeline();
  drawAxis();
  rebuildView();
  document.body.setAttribute("data-ready", "1");
  document.body.setAttribute("data-rows", String(tbody.querySelectorAll("tr:not(.spacer)").length));
  document.body.setAttribute("data-render-ms", String(Math.round(window.performance.now() - startedAt)));
}());
