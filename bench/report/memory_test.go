package report

import (
	"testing"

	"github.com/votechain/votechain/bench/measure"
)

func TestMarkdownRedisSaysWhatItDividesBy(t *testing.T) {
	r := fixture()
	r.Redis = measure.RedisUsage{UsedBytes: 300 << 20, Classes: []measure.RedisClass{
		{Name: "roll shards (per voter on the roll)", Per: "voters on the roll in Redis (fields of the shards)", Keys: 43_008, Items: 4_400_000, BytesPerItem: 40.5, MBPerMillion: 38.6}}}
	r.RedisMBPerMillion = 151
	md := r.Markdown()
	hasAll(t, md,
		"| roll shards (per voter on the roll) | 43,008 | voters on the roll in Redis (fields of the shards) | 4,400,000 | 40.5 | 38.6 |",
		"**Redis per million voters ≈ 151 MB** (#15's figure)",
	)
}
