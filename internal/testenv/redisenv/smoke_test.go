package redisenv

import "testing"

func TestSmokeStandalone(t *testing.T) { Standalone(t) }
func TestSmokeSentinel(t *testing.T)   { Sentinel(t, 1, 3) }
func TestSmokeCluster(t *testing.T)    { Cluster(t, 3, 1) }
func TestSmokeTLS(t *testing.T) {
	Standalone(t, WithTLS(), WithUser("u", "p"))
	Sentinel(t, 1, 3, WithTLS(), WithUser("u", "p"), WithSentinelPassword("sp"))
	Cluster(t, 3, 1, WithTLS(), WithUser("u", "p"))
}
