// queue.hpp — the sender's side of the Redis Streams send queue: read by priority, acknowledge, reclaim, trim.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "wagate/redis.hpp"
#include "wagate/send_queue.hpp"

namespace wagate::sender {

// One consumer of the `senders` group. Not thread-safe. Every method throws
// RedisError when Redis cannot be reached; the next call reconnects.
class Queue {
 public:
  Queue(const std::string& redis_url, std::string consumer);

  // Creates the groups when missing (Redis restarted empty, first start).
  void ensure_groups();

  // Up to `count` new entries, the high stream first and the normal one only
  // for what is left. When both are empty and `block` is positive, waits up
  // to `block` for an entry on either.
  std::vector<send_queue::Entry> read(int count, std::chrono::milliseconds block);

  // XACK, one command per stream.
  void ack(const std::vector<send_queue::Entry>& entries);

  // Entries delivered to a consumer that has not acknowledged them for
  // `min_idle` (it crashed, or lost its connection), now this consumer's.
  std::vector<send_queue::Entry> reclaim(std::chrono::milliseconds min_idle, int count);

  // Where the group stands on one stream: whether entries wait that no
  // consumer has read yet, and the Redis server time (ms) of the newest
  // entry it has delivered. Entries are never deleted from the middle of a
  // stream (trimming drops only delivered ones), so entries wait exactly
  // when the stream's last id is past the group's last delivered id.
  struct ReadPosition {
    bool entries_waiting = false;
    long long delivered_through_ms = 0;
  };
  ReadPosition read_position(std::string_view stream);

  // Drops the entries every consumer is done with (older than the oldest
  // pending one, or than the last delivered one when none is pending), so
  // the streams do not grow forever.
  void trim();

  [[nodiscard]] const std::string& consumer() const { return consumer_; }
  [[nodiscard]] redis::Client& client() { return redis_; }

 private:
  std::vector<send_queue::Entry> read_streams(const std::vector<std::string_view>& streams, int count,
                                              std::chrono::milliseconds block);

  redis::Client redis_;
  std::string consumer_;
};

// "hostname-pid": unique per process, readable in XINFO CONSUMERS.
[[nodiscard]] std::string consumer_name();

}  // namespace wagate::sender
