// send_queue.hpp — the Redis Streams send queue between wagate-api and wagate-sender.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wagate::redis {
class Client;
}

namespace wagate::send_queue {

// Postgres is the record; the queue only says "look at this message now".
// An entry lost with Redis is found again by the sweeper (accepted or
// retrying messages whose next_attempt_at has passed), and an entry seen
// twice is harmless because a sender claims a message in Postgres before
// sending it.
inline constexpr std::string_view kHighStream = "wagate:send:high";
inline constexpr std::string_view kNormalStream = "wagate:send:normal";
inline constexpr std::string_view kGroup = "senders";

enum class Priority { High, Normal };

struct Entry {
  std::string stream_id;   // Redis entry id ("1700000000000-0"), for XACK
  std::string stream;      // which stream it came from
  std::string message_id;  // messages.id (uuid)
  long long tenant_id = 0;
  std::string created_at;  // messages.created_at: the partition key, so the lookup is pruned
};

std::string_view stream_for(Priority priority);
std::optional<Priority> parse_priority(std::string_view text);  // "high" | "normal"

// XADD with fields message_id, tenant_id, created_at. Throws RedisError.
void enqueue(redis::Client& redis, Priority priority, std::string_view message_id, long long tenant_id,
             std::string_view created_at);

struct QueuedMessage {
  std::string_view message_id;
  long long tenant_id = 0;
  std::string_view created_at;
};

// The same XADD for each message, in order, in one round trip (a script):
// the sweeper queues hundreds at a time. Throws RedisError; after a failure
// some of them may be queued, which is harmless.
void enqueue_many(redis::Client& redis, Priority priority, std::span<const QueuedMessage> messages);

// Creates both streams' consumer group if missing (XGROUP CREATE ... MKSTREAM).
void ensure_groups(redis::Client& redis);

// Entries from a stream reply (XREADGROUP / XAUTOCLAIM element list).
std::vector<Entry> parse_entries(std::string_view stream, const void* redis_reply_array);

}  // namespace wagate::send_queue
