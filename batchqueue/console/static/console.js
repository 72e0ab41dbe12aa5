// batchqueue console: live counts by light polling (paused while the tab is hidden), drag and drop
// for the upload, the mapping form re-checked on change, and the CSRF token on script requests.
"use strict";
(function () {
  const token = () => document.querySelector('meta[name="csrf-token"]').content;
  const POLL_MS = 2000;

  function every(ms, work) {
    let timer = null;
    const tick = async () => {
      if (!document.hidden) { try { await work(); } catch (e) { /* the next tick tries again */ } }
      timer = setTimeout(tick, ms);
    };
    timer = setTimeout(tick, ms);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) { clearTimeout(timer); tick(); } });
  }

  const fmt = (n) => Number(n).toLocaleString("en-US");

  // The segments come from the server (sent, sending, held, left, not sent): one definition of them.
  function drawProgress(svg, progress) {
    const width = svg.viewBox.baseVal.width;
    const total = progress.reduce((a, p) => a + p.rows, 0) || 1;
    let x = 0;
    for (const part of progress) {
      const rect = svg.querySelector('rect[data-segment="' + part.segment + '"]');
      if (!rect) continue;
      const w = width * part.rows / total;
      rect.setAttribute("x", x.toFixed(2)); rect.setAttribute("width", w.toFixed(2));
      rect.querySelector("title").textContent = part.segment + ": " + fmt(part.rows);
      x += w;
      const legend = document.querySelector('[data-progress="' + part.segment + '"]');
      if (legend) legend.textContent = fmt(part.rows);
    }
  }

  function activityText(a) {
    const rate = a.rate.toFixed(1) + " requests/s over the last 15 s";
    if (!a.running) return a.rate ? "Not sending now (" + rate + ")" : "Not sending";
    let text = "Sending: " + rate + ", by " + a.workers.length + " worker(s)";
    if (a.throttled_by) text += ", throttled by Insight (" + a.throttled_by + ")";
    return text;
  }

  const live = document.querySelector("[data-live]");
  if (live) {
    every(POLL_MS, async () => {
      const reply = await fetch(live.dataset.live + "?summary=1", { headers: { Accept: "application/json" } });
      if (!reply.ok) return;
      const job = await reply.json();
      for (const dd of document.querySelectorAll("[data-count]")) dd.textContent = fmt(job.counts[dd.dataset.count] || 0);
      drawProgress(live.querySelector("svg.progress"), job.progress);
      document.getElementById("activity").textContent = activityText(job.activity);
      const runLine = document.getElementById("run-message");
      if (job.run) runLine.textContent = "Run started by " + job.run.started_by + ": " + job.run.message;
      const start = document.getElementById("start-button"), pause = document.getElementById("pause-button");
      const test = document.getElementById("test-send-button");
      const running = job.activity.running || (job.run && job.run.running);
      const sendable = !document.getElementById("target").classList.contains("missing") && !job.archived_at;
      if (start) start.disabled = Boolean(running) || !sendable;
      if (test) test.disabled = Boolean(running) || !sendable;
      if (pause) pause.disabled = !(job.run && job.run.running);
    });
  }

  const table = document.querySelector("[data-live-jobs]");
  if (table) {
    every(POLL_MS * 2, async () => {
      const reply = await fetch(table.dataset.liveJobs, { headers: { Accept: "application/json" } });
      if (!reply.ok) return;
      for (const job of (await reply.json()).jobs) {
        const row = table.querySelector('tr[data-job="' + job.job_id + '"]');
        if (!row) continue;
        row.querySelector('[data-field="settled"]').textContent = fmt(job.settled);
        row.querySelector('[data-field="rows"]').textContent = fmt(job.rows);
        row.querySelector('[data-field="pending"]').textContent = fmt(job.counts.pending);
        row.querySelector('[data-field="activity"]').textContent = job.activity.running
          ? "sending, " + job.activity.rate.toFixed(1) + "/s" + (job.activity.throttled_by ? " (throttled: " + job.activity.throttled_by + ")" : "")
          : "idle";
        const outcomes = Object.entries(job.outcomes).sort();
        row.querySelector('[data-field="outcomes"]').textContent = outcomes.length
          ? outcomes.map(([k, v]) => k + " " + fmt(v)).join(" · ") : "—";
        drawProgress(row.querySelector("svg.progress"), job.progress);
      }
    });
  }

  const drop = document.getElementById("drop");
  if (drop) {
    const input = document.getElementById("file");
    ["dragenter", "dragover"].forEach((e) => drop.addEventListener(e, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
    ["dragleave", "drop"].forEach((e) => drop.addEventListener(e, () => drop.classList.remove("over")));
    drop.addEventListener("drop", (ev) => {
      ev.preventDefault();
      if (ev.dataTransfer.files.length) { input.files = ev.dataTransfer.files; drop.querySelector("span").textContent = input.files[0].name; }
    });
    input.addEventListener("change", () => { if (input.files.length) drop.querySelector("span").textContent = input.files[0].name; });
  }

  const checking = document.querySelector("[data-check]");
  if (checking) {
    every(POLL_MS / 2, async () => {
      const reply = await fetch(checking.dataset.check, { headers: { Accept: "application/json" } });
      if (!reply.ok) return;
      const state = await reply.json();
      if (state.finished) { window.location.reload(); return; }
      const bar = document.getElementById("check-bar");
      bar.setAttribute("width", (600 * state.fraction).toFixed(2));
      document.getElementById("check-percent").textContent = Math.round(100 * state.fraction) + "%";
    });
  }

  const mapping = document.querySelector("form[data-autosubmit]");
  if (mapping) mapping.querySelectorAll("select").forEach((s) => s.addEventListener("change", () => mapping.submit()));

  window.batchqueue = { token };
})();
