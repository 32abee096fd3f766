// The voter's page (see package voterweb): casts through the JSON API, one
// POST /api/v1/vote per chosen contest; keeps and offers the receipt as a
// JSON file; checks votes by id or receipt file, drawing the Merkle path of
// a counted vote from its leaf to the batch root, and links each vote
// checked to the explorer's check of it when the page names an explorer.
// Every refusal is shown in the API's own words. It moves the page from
// phase to phase of the voting window (before, open, after) when the window
// opens or ends while the page is open, or as the election record, read
// while the window is open, says (an early close, a window set anew); and
// it adds the voter's local time to the window's times.
"use strict";

const $ = (id) => document.getElementById(id);

// el builds an element with text or child nodes (never HTML strings).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

const pageData = (() => {
  const d = $("page-data");
  return d ? JSON.parse(d.textContent) : { reasons: {} };
})();

// api calls the gateway and returns {status, body, headers}; a body that is
// not JSON becomes an error in words. With timeout (ms), a gateway that has
// not answered by then is a network error (status 0, no headers); without,
// it is waited for.
async function api(method, path, body, timeout) {
  const init = { method, headers: { Accept: "application/json" } };
  if (timeout > 0 && AbortSignal.timeout) init.signal = AbortSignal.timeout(timeout);
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    return { status: 0, body: { error: { code: "network", message: "the gateway could not be reached (" + err.message + ")" } } };
  }
  try {
    return { status: resp.status, body: await resp.json(), headers: resp.headers };
  } catch (err) {
    return { status: resp.status, headers: resp.headers,
      body: { error: { code: "http_" + resp.status, message: "the gateway answered " + resp.status + " " + resp.statusText } } };
  }
}

// errorText words an API error answer.
function errorText(ans) {
  const e = (ans.body && ans.body.error) || {};
  return (e.message || "unexpected answer") + (e.code ? " (" + e.code + ", HTTP " + ans.status + ")" : "");
}

// retryMax is the longest wait (ms) a Retry-After imposes.
const retryMax = 10 * 60 * 1000;

// retryAfter is the wait (ms) a 503 or 429 answer asks for in its
// Retry-After, in whole seconds as the gateway sends it, up to retryMax;
// 0 for any other answer or form.
function retryAfter(ans) {
  if ((ans.status !== 503 && ans.status !== 429) || !ans.headers) return 0;
  const secs = (ans.headers.get("Retry-After") || "").trim();
  return /^\d+$/.test(secs) ? Math.min(Number(secs) * 1000, retryMax) : 0;
}

function message(kind, label, text) {
  return el("p", { class: "message " + kind, role: kind === "error" ? "alert" : "status" }, el("strong", {}, label + ": "), text);
}

// ---- casting ----

let saved = null; // the receipt file's content after a cast

async function cast(ev) {
  ev.preventDefault();
  const answer = $("answer");
  answer.replaceChildren();
  // The live region is on the page from the start (screen readers miss
  // one that appears with its first words); its heading shows now.
  $("answer-heading").hidden = false;
  const voter = { voter_id: $("voter-id").value.trim(), credential: $("credential").value, state: $("state").value };
  const chosen = [];
  for (const fs of document.querySelectorAll("fieldset.contest")) {
    const picked = fs.querySelector("input[type=radio]:checked");
    if (picked && picked.value !== "") {
      chosen.push({ contest: fs.dataset.contest, title: fs.querySelector("legend").textContent.replace(/\s+/g, " ").trim(), choice: picked.value });
    }
  }
  const missing = [];
  if (!chosen.length) missing.push("choose an answer in at least one contest");
  if (!voter.voter_id) missing.push("enter your voter id");
  if (!voter.credential) missing.push("enter your credential");
  if (!voter.state) missing.push("choose your state");
  if (missing.length) {
    answer.append(message("error", "Not sent", "please " + missing.join(", ") + "."));
    $("keep").hidden = true;
    $("answer-heading").focus();
    return;
  }
  $("cast").disabled = true;
  answer.append(el("p", { id: "casting" }, "Sending your vote…"));
  const votes = [];
  const list = el("ul", { id: "cast-results" });
  for (const c of chosen) {
    const ans = await api("POST", "/api/v1/vote", { ...voter, contest: c.contest, choice: c.choice });
    const item = el("li", { "data-contest": c.contest });
    if (ans.status === 202) {
      const v = { contest: c.contest, title: c.title, vote_id: ans.body.vote_id, receipt_url: ans.body.receipt_url, accepted: ans.body };
      // The signed acceptance receipt (the intake log): when the 202 names
      // where to fetch it, the receipt file keeps it and it can be
      // downloaded on its own for verify --acceptance.
      let accError = "";
      if (ans.body.acceptance_url) {
        const acc = await acceptance(ans.body.acceptance_url);
        if (acc.status === 200) v.acceptance = acc.body;
        else accError = errorText(acc);
      }
      const r = await api("GET", ans.body.receipt_url);
      if (r.status === 200) v.receipt = r.body;
      votes.push(v);
      item.append(el("strong", {}, "Accepted: "), c.title + " — your vote id is ",
        el("code", { class: "vote-id" }, v.vote_id), " (status: " + ans.body.status + "; ",
        el("a", { href: "/vote?vote_id=" + encodeURIComponent(v.vote_id) }, "link to check it later"), ")");
      if (v.acceptance) {
        const h = v.acceptance.head || {};
        item.append(el("span", { class: "acceptance" }, "; signed acceptance receipt received (entry " + v.acceptance.index +
          " of the " + h.state + " intake log, under a head of " + h.size + " entries signed by key " + h.key_id + ")"));
      } else if (accError) {
        item.append(el("span", { class: "acceptance" }, "; no signed acceptance receipt yet: " + accError));
      }
    } else if (ans.status === 0 || ans.status >= 500) {
      // Not refused: the vote may or may not have been kept. Sending it
      // again is safe: a kept one answers 409 with its vote id below.
      item.classList.add("unsure");
      item.setAttribute("role", "alert");
      item.append(el("strong", {}, "Not recorded yet: "), c.title + " — ", el("span", { class: "reason" }, errorText(ans)),
        " Send it again in a moment; if the answer is then that it was already accepted, this attempt was kept.");
    } else {
      item.classList.add("refused");
      item.setAttribute("role", "alert");
      item.append(el("strong", {}, "Refused: "), c.title + " — ", el("span", { class: "reason" }, errorText(ans)));
      if (ans.status === 409) await earlierVote(voter, c.contest, item);
    }
    list.append(item);
  }
  // Nothing of the voter's stays on the page for whoever uses the device
  // next: credentials and choices are cleared once sent.
  $("voter-id").value = "";
  $("credential").value = "";
  for (const fs of document.querySelectorAll("fieldset.contest")) {
    const none = fs.querySelector("input[type=radio][value='']");
    if (none) none.checked = true;
    else for (const r of fs.querySelectorAll("input[type=radio]")) r.checked = false;
  }
  $("casting").remove();
  answer.append(list);
  if (votes.length) {
    saved = { kind: "votechain-voter-receipt", version: 1, election: pageData.election, gateway: location.origin,
      saved_at: new Date().toISOString(), votes };
    answer.append(el("p", {}, "Write down your vote id" + (votes.length > 1 ? "s" : "") +
      " or download the receipt: you need it to check your vote later."));
  }
  $("keep").hidden = !votes.length;
  $("download-acceptance").hidden = !votes.some((v) => v.acceptance);
  $("cast").disabled = false;
  $("answer-heading").focus();
}

// earlierVote tells a voter whose vote was already accepted which vote
// that was (POST /api/v1/votes/lookup), so that a re-send after a lost
// answer still ends with a vote id to check.
async function earlierVote(voter, contest, item) {
  const r = await api("POST", "/api/v1/votes/lookup", { voter_id: voter.voter_id, credential: voter.credential, contest });
  if (r.status !== 200 || !r.body.vote_id) return;
  item.append(" Your vote accepted earlier has the id ", el("code", { class: "vote-id" }, r.body.vote_id), " (",
    el("a", { href: "/vote?vote_id=" + encodeURIComponent(r.body.vote_id) }, "check it"), ").");
}

// The cast's answer waits for the signed acceptance receipts: at most
// acceptanceRetries retries of each, after at most acceptanceWaitMax ms of
// waits in all; acceptanceWaitDefault is a retry's wait when the answer
// names none.
const acceptanceRetries = 4;
const acceptanceWaitMax = 10000;
const acceptanceWaitDefault = 1000;

// acceptance fetches a signed acceptance receipt, retrying while no signed
// tree head covers the vote yet (503 head_pending): each retry once the
// answer's Retry-After has passed (retryAfter), and none that would take the
// waits past acceptanceWaitMax; the last answer is returned. A receipt not
// fetched then can be later: the receipt file keeps the 202's
// acceptance_url.
async function acceptance(url) {
  let waited = 0;
  for (let i = 0; ; i++) {
    const ans = await api("GET", url);
    const code = ans.body && ans.body.error && ans.body.error.code;
    const wait = retryAfter(ans) || acceptanceWaitDefault;
    if (ans.status !== 503 || code !== "head_pending" || i === acceptanceRetries || waited + wait > acceptanceWaitMax) return ans;
    waited += wait;
    await new Promise((done) => setTimeout(done, wait));
  }
}

function saveFile(name, text) {
  const blob = new Blob([text], { type: "application/json" });
  const a = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// download saves the receipt file: the election and, per vote, its id,
// contest, the 202, the receipt then and the signed acceptance receipt.
function download() {
  if (saved) saveFile("votechain-receipt-" + saved.votes[0].vote_id.slice(0, 8) + ".json", JSON.stringify(saved, null, 2) + "\n");
}

// downloadAcceptance saves the signed acceptance receipts alone, one JSON
// object per line, as bin/verify --acceptance reads them.
function downloadAcceptance() {
  const accs = saved ? saved.votes.filter((v) => v.acceptance) : [];
  if (accs.length) {
    saveFile("votechain-acceptance-" + accs[0].vote_id.slice(0, 8) + ".json", accs.map((v) => JSON.stringify(v.acceptance)).join("\n") + "\n");
  }
}

// ---- checking ----

// voteIDs reads the vote ids of a receipt: the page's file, one API
// receipt, or a list of either.
function voteIDs(doc) {
  if (Array.isArray(doc)) return doc.flatMap(voteIDs);
  if (doc && Array.isArray(doc.votes)) return doc.votes.map((v) => v.vote_id).filter(Boolean);
  if (doc && typeof doc.vote_id === "string") return [doc.vote_id];
  return [];
}

// parseReceipt reads one JSON document, or one per line (a file of signed
// acceptance receipts).
function parseReceipt(text) {
  try {
    return JSON.parse(text);
  } catch (err) {
    const lines = text.split("\n").filter((l) => l.trim());
    if (lines.length < 2) throw err;
    return lines.map((l) => JSON.parse(l));
  }
}

async function check(ev) {
  ev.preventDefault();
  const out = $("check-result");
  out.replaceChildren();
  let ids = [];
  const typed = $("check-id").value.trim().toLowerCase();
  if (typed) ids.push(typed);
  let text = $("check-paste").value.trim();
  const file = $("check-file").files[0];
  if (!text && file) text = (await file.text()).trim();
  if (text) {
    try {
      const found = voteIDs(parseReceipt(text));
      if (!found.length) {
        out.append(message("error", "Error", "the receipt names no vote id."));
        return;
      }
      ids.push(...found);
    } catch (err) {
      out.append(message("error", "Error", "the receipt is not a JSON file: " + err.message));
      return;
    }
  }
  ids = [...new Set(ids)];
  if (!ids.length) {
    out.append(message("error", "Error", "enter a vote id, or choose or paste your receipt."));
    return;
  }
  for (const id of ids) {
    const ans = await api("GET", "/api/v1/votes/" + encodeURIComponent(id));
    const box = el("article", { class: "vote-check", "data-vote-id": id }, el("h3", {}, "Vote ", el("code", {}, id)));
    if (ans.status !== 200) box.append(message("error", "Error", errorText(ans)));
    else await showReceipt(box, ans.body);
    const verify = $("explorer-verify");
    if (verify) box.append(explorerCheck(verify.href, id));
    out.append(box);
  }
}

// explorerCheck links to the explorer's check of vote id (its /verify
// page, which the gateway renders when it knows the explorer): the same
// vote checked on a node the gateway's operator does not run, whatever the
// gateway answered.
function explorerCheck(verify, id) {
  const u = new URL(verify);
  u.searchParams.set("vote_id", id);
  return el("p", { class: "explorer-check" }, "Check it on the auditors' explorer too: ",
    el("a", { href: u.href }, "verify vote " + id), ".");
}

const statusWords = {
  pending: "accepted by the gateway, waiting to be written to the ledger; check again in a few seconds",
  counted: "on the ledger and counted",
  duplicate: "on the ledger but not counted",
  rejected: "on the ledger but not counted",
};

async function showReceipt(box, r) {
  box.append(el("p", { class: "status status-" + r.status },
    el("strong", {}, "Status: " + r.status), " — " + (statusWords[r.status] || "")));
  if (r.reason) {
    box.append(el("p", { class: "reason" }, el("strong", {}, "Reason: "),
      (pageData.reasons[r.reason] || "the ledger gave no description") + " (" + r.reason + ")"));
  }
  const facts = el("dl", {});
  const fact = (k, v) => v !== undefined && v !== "" && facts.append(el("dt", {}, k), el("dd", {}, v));
  fact("Contest", r.contest);
  if (r.vote) {
    fact("Choice", r.vote.choice);
    fact("State", r.vote.state);
    fact("Cast at", new Date(r.vote.cast_at).toISOString());
  }
  if (r.status !== "pending") {
    fact("Batch", r.state + " #" + r.seq + " (vote " + (r.index + 1) + " of " + r.size + ")");
    fact("Block", String(r.block));
    fact("Transaction", r.tx_id);
  }
  box.append(facts);
  if (r.status !== "pending" && r.leaf && r.root) box.append(await merklePath(r));
}

// ---- the voting window ----

// The gateway renders the page in its phase (pageData.phase: "before" the
// window, "open" or "after"); followWindow moves it on when the window
// opens or ends, timed on the gateway's clock (pageData.now is its time at
// rendering, so a device's clock that is off does not matter), and only
// ever forward. While the page is open, pollElection reads the election
// record: a close ends the window early, and an election set up anew
// before it opened may move the page back to "before". The gateway stays
// the authority: a vote sent at the edge gets its answer like any other.
const phases = ["before", "open", "after"];
const skew = pageData.now ? pageData.now - Date.now() : 0;
let phase = pageData.phase;
let phaseTimer = 0;

// phaseAt is the phase at t (ms since the epoch, the gateway's clock) of an
// election the gateway showed as not closed: the window is [opens, closes).
function phaseAt(t) {
  if (t < pageData.opens) return "before";
  return t < pageData.closes ? "open" : "after";
}

// showPhase shows what phase p shows, its heading included; the notices
// are in a live region. When the form goes while the voter is in it, focus
// moves to the notice.
function showPhase(p) {
  const form = $("vote-form");
  const wasInForm = form.contains(document.activeElement);
  form.hidden = p !== "open";
  $("cast-heading").textContent = pageData.headings[p];
  $("window").hidden = p !== "open";
  $("open-notice").hidden = p !== "open";
  $("before-notice").hidden = p !== "before";
  $("after-notice").hidden = p !== "after";
  if (wasInForm && form.hidden) $(p + "-notice").focus();
}

// enter makes p the page's phase and shows it; the record is read in the
// open phase only, and no timer runs after it. A page that opens reads it
// within a quarter of an interval: the window it opened on may have been
// closed or set anew while it showed "before", which reads none.
function enter(p) {
  const opening = phase === "before" && p === "open";
  phase = p;
  showPhase(p);
  if (p === "after") clearTimeout(phaseTimer);
  schedulePoll(opening ? (Math.random() * pageData.poll) / 4 : undefined);
}

// followWindow checks the phase now and waits for the next edge of the
// window, at most a minute at a time (a device asleep or a tab in the
// background delays timers; long delays overflow setTimeout).
function followWindow() {
  clearTimeout(phaseTimer);
  const t = Date.now() + skew;
  const p = phaseAt(t);
  if (phases.indexOf(p) > phases.indexOf(phase)) enter(p);
  if (phase === "after") return;
  const edge = phase === "before" ? pageData.opens : pageData.closes;
  phaseTimer = setTimeout(followWindow, Math.min(Math.max(edge - t, 0) + 50, 60000));
}

// The record is read about every pageData.poll ms; each failed read
// doubles the wait, up to pollMax times that, and a good one resets it.
// No read is made before pollNotBefore (ms, device clock), the end of the
// last answer's Retry-After.
const pollMax = 8;
let pollWait = pageData.poll;
let pollTimer = 0;
let lastPoll = Date.now(); // the gateway read the record to render the page
let pollNotBefore = 0;
let polling = false;

// schedulePoll sets the next read of the record wait ms away (by default
// 3/4 to 5/4 of pollWait, so that pages opened together do not ask
// together), or at pollNotBefore if that is later. It sets none unless the
// page is open and its tab shown, nor while a read is under way: that read
// sets the next.
function schedulePoll(wait) {
  clearTimeout(pollTimer);
  if (phase !== "open" || document.hidden || polling || !(pageData.poll > 0)) return;
  wait = wait ?? pollWait * (0.75 + Math.random() / 2);
  pollTimer = setTimeout(pollElection, Math.max(wait, pollNotBefore - Date.now()));
}

// pollElection reads the election record (GET /api/v1/election) and takes
// its window (takeWindow). A record closed or finalised moves the page to
// the after phase; one still configured, to the phase its window gives,
// "before" included. Any other answer (an error, a 429) leaves the page as
// it is and doubles the wait; a 503 or 429 with Retry-After also holds the
// next read back until it has passed (retryAfter).
async function pollElection() {
  clearTimeout(pollTimer);
  if (phase !== "open" || document.hidden || polling) return;
  polling = true;
  lastPoll = Date.now();
  // A read that hangs would stop the polling (none starts while one runs):
  // it is given up after one interval and counts as failed.
  let ans;
  try {
    ans = await api("GET", "/api/v1/election", undefined, pageData.poll);
  } finally {
    polling = false;
  }
  pollNotBefore = Date.now() + retryAfter(ans);
  const e = (ans.status === 200 && ans.body) || {};
  // The page's own timer may have ended the window during the read; a
  // record still open then says nothing new (its window may have been
  // moved on since, which the gateway's answer to a vote tells).
  if (phase === "after" && e.status === "configured") return;
  if (takeWindow(e)) {
    pollWait = pageData.poll;
    const p = e.status === "configured" ? phaseAt(Date.now() + skew) : "after";
    if (p !== phase && phase !== "after") enter(p);
    followWindow();
  } else {
    pollWait = Math.min(pollWait * 2, pollMax * pageData.poll);
  }
  schedulePoll();
}

// takeWindow makes the window of election record e the page's (opens_at
// to closes_at, or to an earlier closed_at), in the page data and in the
// <time> elements of each edge that moved. It reports false, changing
// nothing, if e is not an election record.
function takeWindow(e) {
  const opens = Date.parse(e.opens_at);
  let closes = Date.parse(e.closes_at);
  const closed = Date.parse(e.closed_at);
  if (closed < closes) closes = closed;
  if (!["configured", "closed", "finalised"].includes(e.status) || isNaN(opens) || isNaN(closes)) return false;
  for (const [edge, t] of [["opens", opens], ["closes", closes]]) {
    if (pageData[edge] === t) continue;
    pageData[edge] = t;
    for (const w of document.querySelectorAll('time.when[data-edge="' + edge + '"]')) {
      const d = new Date(t);
      w.dateTime = d.toISOString().replace(/\.\d+Z$/, "Z");
      w.textContent = utcText(d);
      localTime(w);
    }
  }
  return true;
}

const months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

// utcText words d in UTC as the gateway writes the window's times
// ("2 March 2031, 14:00 UTC").
function utcText(d) {
  const two = (n) => String(n).padStart(2, "0");
  return d.getUTCDate() + " " + months[d.getUTCMonth()] + " " + d.getUTCFullYear() + ", " +
    two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + " UTC";
}

// localTime adds the voter's local time to a <time> of the window that
// says it in UTC, unless the voter's clock is on UTC then.
function localTime(t) {
  const opts = { weekday: "long", day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  const d = new Date(t.dateTime);
  if (isNaN(d) || d.getTimezoneOffset() === 0) return;
  t.textContent = d.toLocaleString(undefined, opts) + ", your time (" + t.textContent + ")";
}

// ---- the Merkle path (RFC 6962 / RFC 9162 2.1.3.2) ----

const hex2bytes = (h) => Uint8Array.from(h.match(/../g) || [], (b) => parseInt(b, 16));
const bytes2hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");

// node is SHA-256(0x01 || left || right), in the browser when it can.
async function node(left, right) {
  const buf = new Uint8Array(65);
  buf[0] = 1;
  buf.set(hex2bytes(left), 1);
  buf.set(hex2bytes(right), 33);
  return bytes2hex(await crypto.subtle.digest("SHA-256", buf));
}

// merklePath draws the path from the vote's leaf to the batch root: each
// step names the sibling hash, its side and the hash they make together.
async function merklePath(r) {
  const canHash = !!(window.crypto && crypto.subtle);
  const inner = (r.index ^ (r.size - 1)).toString(2).replace(/^0+/, "").length;
  const fig = el("figure", { class: "merkle" }, el("figcaption", {}, "Merkle proof: from your vote to the batch root"));
  const ol = el("ol", { class: "merkle-path" });
  ol.append(el("li", { class: "leaf" }, el("strong", {}, "Your vote's leaf: "), el("code", {}, r.leaf)));
  let h = r.leaf;
  for (let i = 0; i < r.proof.length; i++) {
    const p = r.proof[i];
    const siblingRight = i < inner && ((r.index >> i) & 1) === 0;
    const li = el("li", { class: "step" }, el("strong", {}, "Step " + (i + 1) + ": "),
      "joined with the sibling on the " + (siblingRight ? "right" : "left") + " ", el("code", {}, p));
    if (canHash) {
      h = siblingRight ? await node(h, p) : await node(p, h);
      li.append(" gives ", el("code", { class: "computed" }, h));
    }
    ol.append(li);
  }
  const root = el("li", { class: "root" }, el("strong", {}, "Batch root on the ledger: "), el("code", {}, r.root));
  ol.append(root);
  fig.append(ol);
  let verdict;
  if (!canHash) verdict = message("note", "Not checked here", "this browser computes hashes only over HTTPS; check the receipt file with the verify command.");
  else if (h === r.root) verdict = message("ok", "Proof checked", "the path leads from your vote to the root recorded on the ledger (computed in your browser).");
  else verdict = message("error", "Proof FAILED", "the path leads to " + h + ", not to the root on the ledger.");
  verdict.classList.add("proof-verdict");
  fig.append(verdict);
  return fig;
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("time.when").forEach(localTime);
  if (pageData.phase && pageData.phase !== "after") {
    followWindow();
    schedulePoll();
    // A hidden tab reads no record. One shown again checks the window at
    // once (its timers may have been held back), and reads the record if
    // the last read is older than the wait.
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        clearTimeout(pollTimer);
        return;
      }
      followWindow();
      schedulePoll(Math.max(lastPoll + pollWait - Date.now(), 0));
    });
  }
  const vf = $("vote-form");
  if (vf) vf.addEventListener("submit", cast);
  const dl = $("download");
  if (dl) dl.addEventListener("click", download);
  const da = $("download-acceptance");
  if (da) da.addEventListener("click", downloadAcceptance);
  const cf = $("check-form");
  cf.addEventListener("submit", check);
  // A bookmarked /vote?vote_id=… checks that vote at once.
  const id = new URLSearchParams(location.search).get("vote_id");
  if (id) {
    $("check-id").value = id;
    cf.requestSubmit();
  }
});
