-- Vote intake: eligibility, pending-claim check, Bloom test-and-set, claim,
-- enqueue and duplicate counting for one or more votes of ONE partition, in
-- one atomic call. Every key shares the partition's hash tag.
--
-- KEYS: 1 roll set, 2 Bloom bitmap, 3 vote stream, 4 duplicate-count hash,
--       5 review stream, 5+v claim key of vote v
-- ARGV: 1 mode ("submit" | "force" | "dup"), 2 claim TTL in seconds,
--       3 Bloom hash count k, 4 review stream MAXLEN, 5 vote count n,
--       then for each vote:
--         raw nullifier (32 bytes), nullifier hex, vote id, request id,
--         Bloom bit positions (k big-endian uint32, one string),
--         nf, nf stream-entry fields/values
--
-- A review entry holds the reason, the request id and the vote's fields.
--
-- Modes:
--   submit  not on roll -> {"ne", 0}; pending claim -> {"dup", attempts};
--           every Bloom bit set -> {"maybe", 0} and nothing written
--           (the caller checks the ledger); else accept -> {"ok", entry id}
--   force   the caller found the nullifier unused on the ledger after a
--           "maybe": accept unless a claim appeared meanwhile (-> "dup")
--   dup     the ledger holds the nullifier: count and review -> {"dup", n}
local mode = ARGV[1]
local ttl = ARGV[2]
local k = tonumber(ARGV[3])
local reviewMax = ARGV[4]
local n = tonumber(ARGV[5])

local out = {}
local i = 6
for v = 1, n do
  local raw, nhex, voteID, reqID, positions = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local nf = tonumber(ARGV[i + 5])
  local fstart = i + 6
  i = fstart + nf
  local claim = KEYS[5 + v]

  local function review(reason)
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', reviewMax, '*',
      'reason', reason, 'request_id', reqID, unpack(ARGV, fstart, fstart + nf - 1))
  end
  local function duplicate()
    local c = redis.call('HINCRBY', KEYS[4], nhex, 1)
    review('duplicate')
    return {'dup', c}
  end
  -- setBits sets the k bits in one BITFIELD call and reports whether all
  -- of them were set before: test-and-set in one command.
  local function setBits()
    local ops = {}
    for j = 0, k - 1 do
      ops[4 * j + 1], ops[4 * j + 2], ops[4 * j + 4] = 'SET', 'u1', 1
      ops[4 * j + 3] = struct.unpack('>I4', positions, 4 * j + 1)
    end
    local old = redis.call('BITFIELD', KEYS[2], unpack(ops))
    for j = 1, k do
      if old[j] == 0 then
        return false
      end
    end
    return true
  end
  local function accept()
    if not redis.call('SET', claim, voteID, 'NX', 'EX', ttl) then
      return duplicate()
    end
    if mode == 'force' then
      setBits()
    end
    local id = redis.call('XADD', KEYS[3], '*', unpack(ARGV, fstart, fstart + nf - 1))
    return {'ok', id}
  end

  if mode == 'dup' then
    out[v] = duplicate()
  elseif mode == 'force' then
    out[v] = accept()
  elseif redis.call('SISMEMBER', KEYS[1], raw) == 0 then
    review('not_eligible')
    out[v] = {'ne', 0}
  elseif redis.call('EXISTS', claim) == 1 then
    out[v] = duplicate()
  elseif setBits() then
    -- All bits were set already, so setting them changed nothing.
    out[v] = {'maybe', 0}
  else
    out[v] = accept()
  end
end
return out
