// send_queue.cpp — the Redis Streams send queue between wagate-api and wagate-sender.
#include "wagate/send_queue.hpp"

#include <hiredis.h>

#include <string>
#include <vector>

#include "wagate/error.hpp"
#include "wagate/redis.hpp"

namespace wagate::send_queue {
namespace {

// ARGV holds (message_id, tenant_id, created_at) triples.
constexpr std::string_view kEnqueueManyScript =
    "for i = 1, #ARGV, 3 do "
    "redis.call('XADD', KEYS[1], '*', 'message_id', ARGV[i], 'tenant_id', ARGV[i + 1], 'created_at', ARGV[i + 2]) "
    "end "
    "return #ARGV / 3";

}  // namespace

std::string_view stream_for(Priority priority) {
  return priority == Priority::High ? kHighStream : kNormalStream;
}

std::optional<Priority> parse_priority(std::string_view text) {
  if (text == "high") return Priority::High;
  if (text == "normal") return Priority::Normal;
  return std::nullopt;
}

void enqueue(redis::Client& redis, Priority priority, std::string_view message_id, long long tenant_id,
             std::string_view created_at) {
  const std::string tenant = std::to_string(tenant_id);
  const redis::Reply reply = redis.command({"XADD", stream_for(priority), "*", "message_id", message_id,
                                            "tenant_id", tenant, "created_at", created_at});
  if (reply.is_error()) throw RedisError("redis: XADD failed: " + std::string(reply.str()));
}

void enqueue_many(redis::Client& redis, Priority priority, std::span<const QueuedMessage> messages) {
  if (messages.empty()) return;
  std::vector<std::string> tenants;
  tenants.reserve(messages.size());
  for (const QueuedMessage& message : messages) tenants.push_back(std::to_string(message.tenant_id));
  std::vector<std::string_view> args = {"EVAL", kEnqueueManyScript, "1", stream_for(priority)};
  args.reserve(args.size() + 3 * messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    args.push_back(messages[i].message_id);
    args.push_back(tenants[i]);
    args.push_back(messages[i].created_at);
  }
  const redis::Reply reply = redis.command(args);
  if (reply.is_error()) throw RedisError("redis: queueing messages failed: " + std::string(reply.str()));
}

void ensure_groups(redis::Client& redis) {
  for (const auto stream : {kHighStream, kNormalStream}) {
    const redis::Reply reply = redis.command({"XGROUP", "CREATE", stream, kGroup, "0", "MKSTREAM"});
    if (reply.is_error() && !reply.str().starts_with("BUSYGROUP")) {
      throw RedisError("redis: XGROUP CREATE failed: " + std::string(reply.str()));
    }
  }
}

std::vector<Entry> parse_entries(std::string_view stream, const void* redis_reply_array) {
  std::vector<Entry> entries;
  const auto* array = static_cast<const redisReply*>(redis_reply_array);
  if (array == nullptr || array->type != REDIS_REPLY_ARRAY) return entries;
  for (size_t i = 0; i < array->elements; ++i) {
    const redisReply* item = array->element[i];
    // [id, [field, value, ...]]; a deleted entry shows a nil field list.
    if (item == nullptr || item->type != REDIS_REPLY_ARRAY || item->elements != 2) continue;
    Entry entry;
    entry.stream = stream;
    entry.stream_id.assign(item->element[0]->str, item->element[0]->len);
    const redisReply* fields = item->element[1];
    if (fields == nullptr || fields->type != REDIS_REPLY_ARRAY) continue;
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
      const std::string_view name(fields->element[f]->str, fields->element[f]->len);
      const std::string_view value(fields->element[f + 1]->str, fields->element[f + 1]->len);
      if (name == "message_id") entry.message_id = value;
      else if (name == "tenant_id") entry.tenant_id = std::atoll(std::string(value).c_str());
      else if (name == "created_at") entry.created_at = value;
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace wagate::send_queue
