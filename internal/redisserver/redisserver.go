// Package redisserver holds the one redis-server configuration Votechain runs
// with, in production (`make up`) and in tests alike: loopback only, AOF on
// with appendfsync always (a 202 means the vote is on disk; Redis group-commits
// the fsyncs), no RDB snapshots, and ACL users per component with the
// default user disabled (see ACL).
package redisserver

import (
	"strconv"
)

// Args are the redis-server command-line settings for a server on
// 127.0.0.1:port keeping its data (AOF, log) in dir, with the users of the
// ACL file aclFile (ACL.Ensure writes it).
func Args(port int, dir, aclFile string) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--appendonly", "yes",
		"--appendfsync", "always",
		"--save", "",
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--aclfile", aclFile,
		"--logfile", "redis.log",
	}
}
