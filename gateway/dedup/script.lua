-- Vote intake for one or more votes of ONE partition, in one atomic call:
-- eligibility, exact duplicate check and claim (the nullifier's "0" on its
-- roll shard turned into the accepted vote's raw id), Bloom test-and-set,
-- enqueue, duplicate counting. Every key shares the partition's hash tag (see
-- votequeue).
--
-- KEYS: 1 Bloom bitmap, 2 vote stream, 3 duplicate-count hash,
--       4 review stream, 5 intake log (list), then for each vote its
--       roll shard (hash raw nullifier -> "0", "1" or a raw vote id)
-- ARGV: 1 mode ("submit" | "force" | "dup"), 2 Bloom hash count k,
--       3 review stream MAXLEN, 4 vote count n, 5 state,
--       6..12 the seven field names of votequeue's field form, 13 that
--       form's version (review entries), 14 the stream entry version,
--       15 "1" if the intake log is on, then 9 + k values for each vote:
--         raw nullifier (32 bytes), raw vote id (16 bytes), request id,
--         vote id, contest, nullifier hex, choice, cast_at, the vote's
--         compact entry
--         (votequeue.AppendLogEntry: the stream entry's "e" and, with
--         the log on, the log's entry), then its k Bloom bit positions
--         in decimal (strings, so Lua formats no number for BITFIELD)
--
-- Answers one {status, value} pair per vote:
--   submit  on the roll and not voted ("0"): set the Bloom bits; if every
--           bit was set already -> {"maybe", 0} and nothing written (the caller
--           checks the ledger), else accept -> {"ok", entry id, log index}
--           (-1 when the log is off: the accepted votes' log entries are
--           appended to the log by one RPUSH for the call);
--           voted (any other value) -> {"dup", attempts};
--           not on the roll -> {"ne", 0}
--   force   the caller found the nullifier unused on the ledger after a
--           "maybe": accept unless it voted meanwhile (-> "dup")
--   dup     the ledger holds the nullifier: record it as voted ("1"), count
--           and review -> {"dup", attempts}
-- A review entry holds the reason, the request id and the vote's fields.
local bloom, stream, dupes, review, log = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local function shard(v) return KEYS[5 + v] end
local mode = ARGV[1]
local k = tonumber(ARGV[2])
local reviewMax = ARGV[3]
local n = tonumber(ARGV[4])
local state = ARGV[5]
local name = {ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]}
local fieldsVersion, version, logOn = ARGV[13], ARGV[14], ARGV[15] == '1'
local per = 9 + k

local function arg(v, j) return ARGV[15 + (v - 1) * per + j] end

-- entry is the vote as the fields of a review entry.
local function entry(v)
  return name[1], fieldsVersion, name[2], arg(v, 4), name[3], state,
    name[4], arg(v, 5), name[5], arg(v, 6), name[6], arg(v, 7),
    name[7], arg(v, 8)
end

local function reviewed(v, reason)
  redis.call('XADD', review, 'MAXLEN', '~', reviewMax, '*',
    'reason', reason, 'request_id', arg(v, 3), entry(v))
end

local function duplicate(v)
  local c = redis.call('HINCRBY', dupes, arg(v, 6), 1)
  reviewed(v, 'duplicate')
  return {'dup', c}
end

-- refused answers a vote whose nullifier was not on the roll unvoted
-- (status: its roll value, false when not on the roll).
local function refused(v, status)
  if status then
    return duplicate(v)
  end
  reviewed(v, 'not_eligible')
  return {'ne', 0}
end

local logged, loggedOut = {}, {}
local function accept(v)
  local enc = arg(v, 9)
  local out = {'ok', redis.call('XADD', stream, '*', name[1], version, name[3], state, 'e', enc), -1}
  if logOn then
    logged[#logged + 1] = enc
    loggedOut[#loggedOut + 1] = out
  end
  return out
end

-- setBits sets the k bits of each of the votes, in as few BITFIELD calls
-- as unpack allows, and returns per vote whether all of its bits were set
-- before.
local function setBits(vs)
  local seen = {}
  local chunk = math.max(1, math.floor(7000 / (4 * k)))
  for first = 1, #vs, chunk do
    local last = math.min(first + chunk - 1, #vs)
    local ops = {}
    for i = first, last do
      local base = 15 + (vs[i] - 1) * per + 9
      for j = 1, k do
        local o = #ops
        ops[o + 1], ops[o + 2], ops[o + 3], ops[o + 4] = 'SET', 'u1', ARGV[base + j], '1'
      end
    end
    local old = redis.call('BITFIELD', bloom, unpack(ops))
    for i = first, last do
      seen[i] = true
      local base = (i - first) * k
      for j = base + 1, base + k do
        if old[j] == 0 then
          seen[i] = false
          break
        end
      end
    end
  end
  return seen
end

local out = {}
local movers = {}
for v = 1, n do
  local status = redis.call('HGET', shard(v), arg(v, 1))
  if status == '0' then
    redis.call('HSET', shard(v), arg(v, 1), mode == 'dup' and '1' or arg(v, 2))
  end
  if mode == 'dup' then
    out[v] = duplicate(v)
  elseif status == '0' then
    movers[#movers + 1] = v
  else
    out[v] = refused(v, status)
  end
end
if #movers > 0 then
  local seen = setBits(movers)
  for i, v in ipairs(movers) do
    if seen[i] and mode == 'submit' then
      -- Every bit was set already (so setting them changed nothing): undo
      -- the move and let the caller ask the ledger.
      redis.call('HSET', shard(v), arg(v, 1), '0')
      out[v] = {'maybe', 0}
    else
      out[v] = accept(v)
    end
  end
end
if #logged > 0 then
  local first = redis.call('RPUSH', log, unpack(logged)) - #logged
  for i, o in ipairs(loggedOut) do
    o[3] = first + i - 1
  end
end
return out
