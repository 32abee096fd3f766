// Votechain explorer: the few things the server-rendered pages cannot do
// alone. No dependencies, no build step.
"use strict";

// drawThroughput draws the votes-per-second series of a canvas's
// data-series attribute ([{time, votes}, ...]) as bars.
function drawThroughput(canvas) {
  const series = JSON.parse(canvas.dataset.series || "[]") || [];
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * ratio;
  canvas.height = h * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.font = "12px system-ui, sans-serif";
  g.fillStyle = "#667085";
  if (series.length === 0) {
    g.fillText("no votes committed yet", 12, h / 2);
    return;
  }
  const peak = Math.max(...series.map(p => p.votes));
  const left = 48, bottom = 20, top = 10;
  const bw = (w - left - 8) / series.length;
  g.fillText(String(peak) + "/s", 4, top + 10);
  g.fillText("0", 4, h - bottom);
  g.fillStyle = "#1849a9";
  series.forEach((p, i) => {
    const bh = (h - bottom - top) * p.votes / peak;
    g.fillRect(left + i * bw + 1, h - bottom - bh, Math.max(1, bw - 2), bh);
  });
  g.fillStyle = "#667085";
  const t = s => new Date(s).toISOString().substring(11, 19);
  g.fillText(t(series[0].time), left, h - 4);
  const last = t(series[series.length - 1].time);
  g.fillText(last, w - 8 - g.measureText(last).width, h - 4);
}

// sizeBars sets each result bar's width from its share of the total.
function sizeBars() {
  document.querySelectorAll(".bar").forEach(bar => {
    const total = Number(bar.dataset.total) || 1;
    bar.style.width = (200 * Number(bar.dataset.value) / total) + "px";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("throughput");
  if (canvas) drawThroughput(canvas);
  sizeBars();
});
