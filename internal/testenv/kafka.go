package testenv

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaPartitions is the partition count of every topic Kafka creates, so
// that tests exercise more than one partition per consumer.
const KafkaPartitions = 3

// Kafka starts an in-process Kafka broker with the given topics and returns
// its bootstrap addresses. It is closed when the test ends. Topics a test
// did not name are created on first use, also with KafkaPartitions
// partitions.
func Kafka(t testing.TB, topics ...string) []string {
	t.Helper()
	return KafkaCluster(t, topics...).ListenAddrs()
}

// KafkaCluster is Kafka for tests that need the cluster itself, to inject
// faults through its Control methods.
func KafkaCluster(t testing.TB, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(KafkaPartitions),
		kfake.AllowAutoTopicCreation(),
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(KafkaPartitions, topics...))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("testenv: start kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster
}
