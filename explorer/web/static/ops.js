// The operator page refreshes itself: every data-refresh seconds it fetches
// the page again and swaps in the new #ops, so charts and alerts stay live
// without a reload. No dependencies.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const ops = document.getElementById("ops");
  if (!ops) return;
  const every = 1000 * (Number(ops.dataset.refresh) || 10);
  const refresh = async () => {
    try {
      const resp = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (resp.ok) {
        const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
        const next = doc.getElementById("ops");
        if (next) document.getElementById("ops").replaceWith(next);
      }
    } finally {
      setTimeout(refresh, every);
    }
  };
  setTimeout(refresh, every);
});
