-- Vote intake for one or more votes of one or more partitions, in one
-- atomic call: eligibility, exact duplicate check and claim (the
-- nullifier's "0" on its roll shard turned into the accepted vote's raw id),
-- Bloom test where a filter exists, enqueue, duplicate counting. Every key
-- of a section shares its partition's hash tag (see votequeue); a call on a
-- Redis Cluster has one section (one slot), on a single server any number.
--
-- KEYS: for each section: 1 Bloom bitmap, 2 vote stream, 3 duplicate-count
--       hash, 4 review stream, 5 intake log (list), then for each of its
--       votes its roll shard (hash raw nullifier -> "0", "1" or a raw vote
--       id)
-- ARGV: 1 mode ("submit" | "force" | "dup"), 2 review stream MAXLEN,
--       3..9 the seven field names of votequeue's field form, 10 that
--       form's version (review entries), 11 "1" if the intake log is on,
--       12 the number of sections; then
--       for each section: its Bloom hash count k, vote count n and state,
--       then 3 values for each of its votes: the vote's compact entry
--       (votequeue.AppendLogEntry: the value of the stream entry's one
--       field, named by the state, and, with the log on, the log's entry),
--       the request id, and its k Bloom bit
--       positions, 4 bytes each, big-endian.
--
-- The accept path takes the raw vote id and nullifier from the compact
-- entry (bytes 2-17 and 18-49) and passes the entry on as it is; only a
-- refusal, rare, derives the review entry's fields from it.
--
-- The intake sets no Bloom bits: the roll's mark, set here, is the exact
-- and permanent record of a vote. A filter exists only where the ledger's
-- nullifiers were loaded into it (roll rebuild-bloom, dedup.Rebuild), so
-- that a roll loaded again after that still sends those voters to the
-- ledger; where none exists the positions are not read.
--
-- Answers three values per vote, in the order of the votes, flat:
--   submit  on the roll and not voted ("0"): if the partition has a
--           filter and every bit of the vote is set -> "maybe", 0, 0 and
--           nothing written (the caller checks the ledger), else accept ->
--           "ok", entry id, log index (-1 when the log is off: the
--           accepted votes' log entries are appended to their partition's
--           log by one RPUSH per section, or per 4,000 of them); voted
--           (any other value) -> "dup", attempts, 0; not on the roll ->
--           "ne", 0, 0
--   force   the caller found the nullifier unused on the ledger after a
--           "maybe": accept unless it voted meanwhile (-> "dup")
--   dup     the ledger holds the nullifier: record it as voted ("1"), count
--           and review -> "dup", attempts, 0
-- A review entry holds the reason, the request id and the vote's fields.
local mode = ARGV[1]
local reviewMax = ARGV[2]
local fieldsVersion, logOn = ARGV[10], ARGV[11] == '1'
local byte, sub = string.byte, string.sub
local out, first = {}, 0 -- a section's vote v answers out[first + 3v - 2 .. first + 3v]

local function hex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', byte(c)) end))
end

-- review appends a refused vote (its compact entry enc, request id rid) to
-- the review stream in votequeue's field form, with its nullifier in hex.
local function review(key, state, enc, rid, reason, nullifier)
  local castAt = 0
  for i = 50, 57 do
    castAt = castAt * 256 + byte(enc, i)
  end
  local nc = byte(enc, 58)
  local nch = byte(enc, 59 + nc)
  redis.call('XADD', key, 'MAXLEN', '~', reviewMax, '*',
    'reason', reason, 'request_id', rid,
    ARGV[3], fieldsVersion, ARGV[4], hex(sub(enc, 2, 17)), ARGV[5], state,
    ARGV[6], sub(enc, 59, 58 + nc), ARGV[7], nullifier,
    ARGV[8], sub(enc, 60 + nc, 59 + nc + nch), ARGV[9], string.format('%.0f', castAt))
end

local kb, ab = 0, 12
for _ = 1, tonumber(ARGV[12]) do
  local k, n, state = tonumber(ARGV[ab + 1]), tonumber(ARGV[ab + 2]), ARGV[ab + 3]
  local bloom, stream, dupes, rev, log = KEYS[kb + 1], KEYS[kb + 2], KEYS[kb + 3], KEYS[kb + 4], KEYS[kb + 5]
  local per = 3
  local base = ab + 3 -- ARGV[base + (v - 1) * per + 1] is vote v's entry
  local movers = {}
  for v = 1, n do
    local a = base + (v - 1) * per
    local enc, shard = ARGV[a + 1], KEYS[kb + 5 + v]
    local null = sub(enc, 18, 49)
    local status = redis.call('HGET', shard, null)
    local o = first + 3 * v
    if mode == 'dup' or (status and status ~= '0') then
      if status == '0' then
        redis.call('HSET', shard, null, '1')
      end
      local nh = hex(null)
      out[o - 2], out[o - 1], out[o] = 'dup', redis.call('HINCRBY', dupes, nh, 1), 0
      review(rev, state, enc, ARGV[a + 2], 'duplicate', nh)
    elseif status then
      redis.call('HSET', shard, null, sub(enc, 2, 17))
      movers[#movers + 1] = v
    else
      out[o - 2], out[o - 1], out[o] = 'ne', 0, 0
      review(rev, state, enc, ARGV[a + 2], 'not_eligible', hex(null))
    end
  end
  -- The movers' Bloom test, in as few BITFIELD calls as unpack allows,
  -- only where the partition has a filter (see above).
  local maybe = {}
  if mode == 'submit' and #movers > 0 and redis.call('EXISTS', bloom) == 1 then
    local chunk = math.max(1, math.floor(7000 / (3 * k)))
    for from = 1, #movers, chunk do
      local last = math.min(from + chunk - 1, #movers)
      local ops, o = {}, 0
      for i = from, last do
        local ps = ARGV[base + (movers[i] - 1) * per + 3]
        for j = 1, 4 * k, 4 do
          local b1, b2, b3, b4 = byte(ps, j, j + 3)
          ops[o + 1], ops[o + 2], ops[o + 3] = 'GET', 'u1', ((b1 * 256 + b2) * 256 + b3) * 256 + b4
          o = o + 3
        end
      end
      local bits = redis.call('BITFIELD_RO', bloom, unpack(ops))
      for i = from, last do
        local all, b = true, (i - from) * k
        for j = b + 1, b + k do
          if bits[j] == 0 then
            all = false
            break
          end
        end
        maybe[i] = all
      end
    end
  end
  local logged, loggedAt = {}, {}
  for i, v in ipairs(movers) do
    local a, at = base + (v - 1) * per, first + 3 * v
    if maybe[i] then
      -- Maybe seen: undo the move and let the caller ask the ledger.
      redis.call('HSET', KEYS[kb + 5 + v], sub(ARGV[a + 1], 18, 49), '0')
      out[at - 2], out[at - 1], out[at] = 'maybe', 0, 0
    else
      local enc = ARGV[a + 1]
      out[at - 2], out[at - 1], out[at] = 'ok', redis.call('XADD', stream, '*', state, enc), -1
      if logOn then
        logged[#logged + 1], loggedAt[#loggedAt + 1] = enc, at
      end
    end
  end
  -- One RPUSH per 4,000 entries: unpack puts every value on Lua's C
  -- stack (LUAI_MAXCSTACK, 8,000), and a script failing here would keep
  -- the stream entries it added above without their log entries.
  local at
  for from = 1, #logged, 4000 do
    local last = math.min(from + 3999, #logged)
    at = redis.call('RPUSH', log, unpack(logged, from, last)) - last
  end
  for i, o in ipairs(loggedAt) do
    out[o] = at + i - 1
  end
  kb, ab, first = kb + 5 + n, base + n * per, first + 3 * n
end
return out
