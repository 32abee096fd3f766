-- Vote intake for one or more votes of one or more partitions, in one
-- atomic call: eligibility, exact duplicate check and claim (the
-- nullifier's "0" on its roll shard turned into the accepted vote's raw id),
-- Bloom test-and-set, enqueue, duplicate counting. Every key of a section
-- shares its partition's hash tag (see votequeue); a call on a Redis
-- Cluster has one section (one slot), on a single server any number.
--
-- KEYS: for each section: 1 Bloom bitmap, 2 vote stream, 3 duplicate-count
--       hash, 4 review stream, 5 intake log (list), then for each of its
--       votes its roll shard (hash raw nullifier -> "0", "1" or a raw vote
--       id)
-- ARGV: 1 mode ("submit" | "force" | "dup"), 2 review stream MAXLEN,
--       3..9 the seven field names of votequeue's field form, 10 that
--       form's version (review entries), 11 the stream entry version,
--       12 "1" if the intake log is on, 13 the number of sections; then
--       for each section: its Bloom hash count k, vote count n and state,
--       then 9 + k values for each of its votes:
--         raw nullifier (32 bytes), raw vote id (16 bytes), request id,
--         vote id, contest, nullifier hex, choice, cast_at, the vote's
--         compact entry
--         (votequeue.AppendLogEntry: the stream entry's "e" and, with
--         the log on, the log's entry), then its k Bloom bit positions
--         in decimal (strings, so Lua formats no number for BITFIELD)
--
-- Answers one {status, value} pair per vote, in the order of the votes:
--   submit  on the roll and not voted ("0"): set the Bloom bits; if every
--           bit was set already -> {"maybe", 0} and nothing written (the caller
--           checks the ledger), else accept -> {"ok", entry id, log index}
--           (-1 when the log is off: the accepted votes' log entries are
--           appended to their partition's log by one RPUSH per section);
--           voted (any other value) -> {"dup", attempts};
--           not on the roll -> {"ne", 0}
--   force   the caller found the nullifier unused on the ledger after a
--           "maybe": accept unless it voted meanwhile (-> "dup")
--   dup     the ledger holds the nullifier: record it as voted ("1"), count
--           and review -> {"dup", attempts}
-- A review entry holds the reason, the request id and the vote's fields.
local mode = ARGV[1]
local reviewMax = ARGV[2]
local name = {ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]}
local fieldsVersion, version, logOn = ARGV[10], ARGV[11], ARGV[12] == '1'
local out = {}

-- section runs the votes of one partition: its keys follow KEYS[kb], its
-- votes' values ARGV[ab] (after its k, n and state).
local function section(kb, ab, k, n, state)
  local bloom, stream, dupes, review, log = KEYS[kb + 1], KEYS[kb + 2], KEYS[kb + 3], KEYS[kb + 4], KEYS[kb + 5]
  local function shard(v) return KEYS[kb + 5 + v] end
  local per = 9 + k
  local function arg(v, j) return ARGV[ab + (v - 1) * per + j] end
  local first = #out -- this section's answers are out[first + v]

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
    local o = {'ok', redis.call('XADD', stream, '*', name[1], version, name[3], state, 'e', enc), -1}
    if logOn then
      logged[#logged + 1] = enc
      loggedOut[#loggedOut + 1] = o
    end
    return o
  end

  -- setBits sets the k bits of each of the votes, in as few BITFIELD calls
  -- as unpack allows, and returns per vote whether all of its bits were set
  -- before.
  local function setBits(vs)
    local seen = {}
    local chunk = math.max(1, math.floor(7000 / (4 * k)))
    for from = 1, #vs, chunk do
      local last = math.min(from + chunk - 1, #vs)
      local ops = {}
      for i = from, last do
        local base = ab + (vs[i] - 1) * per + 9
        for j = 1, k do
          local o = #ops
          ops[o + 1], ops[o + 2], ops[o + 3], ops[o + 4] = 'SET', 'u1', ARGV[base + j], '1'
        end
      end
      -- The bits are set in memory only, not appended to the AOF nor sent
      -- to replicas: the roll's marks, written with them, are the durable
      -- record, and after a restart a filter missing bits only makes
      -- "maybe" rarer (votequeue's doc).
      redis.set_repl(redis.REPL_NONE)
      local old = redis.call('BITFIELD', bloom, unpack(ops))
      redis.set_repl(redis.REPL_ALL)
      for i = from, last do
        seen[i] = true
        local base = (i - from) * k
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

  local movers = {}
  for v = 1, n do
    local status = redis.call('HGET', shard(v), arg(v, 1))
    if status == '0' then
      redis.call('HSET', shard(v), arg(v, 1), mode == 'dup' and '1' or arg(v, 2))
    end
    if mode == 'dup' then
      out[first + v] = duplicate(v)
    elseif status == '0' then
      movers[#movers + 1] = v
    else
      out[first + v] = refused(v, status)
    end
  end
  if #movers > 0 then
    local seen = setBits(movers)
    for i, v in ipairs(movers) do
      if seen[i] and mode == 'submit' then
        -- Every bit was set already (so setting them changed nothing): undo
        -- the move and let the caller ask the ledger.
        redis.call('HSET', shard(v), arg(v, 1), '0')
        out[first + v] = {'maybe', 0}
      else
        out[first + v] = accept(v)
      end
    end
  end
  if #logged > 0 then
    local at = redis.call('RPUSH', log, unpack(logged)) - #logged
    for i, o in ipairs(loggedOut) do
      o[3] = at + i - 1
    end
  end
end

local kb, ab = 0, 13
for _ = 1, tonumber(ARGV[13]) do
  local k, n = tonumber(ARGV[ab + 1]), tonumber(ARGV[ab + 2])
  section(kb, ab + 3, k, n, ARGV[ab + 3])
  kb, ab = kb + 5 + n, ab + 3 + n * (9 + k)
end
return out
