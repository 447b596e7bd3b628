// redis_test.cpp — redis_url parsing and connection failures, without a server.
#include "wagate/redis.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace wagate::redis {
namespace {

TEST(RedisUrl, HostPortAndDatabase) {
  const Endpoint endpoint = parse_url("redis://10.0.0.5:6380/2");
  EXPECT_EQ(endpoint.kind, Endpoint::Kind::Tcp);
  EXPECT_EQ(endpoint.host, "10.0.0.5");
  EXPECT_EQ(endpoint.port, 6380);
  EXPECT_EQ(endpoint.db, 2);
  EXPECT_TRUE(endpoint.password.empty());
  EXPECT_TRUE(endpoint.user.empty());
  EXPECT_EQ(endpoint.describe(), "10.0.0.5:6380");
}

TEST(RedisUrl, Defaults) {
  for (const char* url : {"redis://cache", "redis://cache/", "redis://cache:6379/0"}) {
    const Endpoint endpoint = parse_url(url);
    EXPECT_EQ(endpoint.host, "cache") << url;
    EXPECT_EQ(endpoint.port, 6379) << url;
    EXPECT_EQ(endpoint.db, 0) << url;
  }
}

TEST(RedisUrl, Credentials) {
  const Endpoint plain = parse_url("redis://:s3cret@h:1/0");
  EXPECT_EQ(plain.password.reveal(), "s3cret");
  EXPECT_TRUE(plain.user.empty());

  const Endpoint acl = parse_url("redis://app:pw@h");
  EXPECT_EQ(acl.user, "app");
  EXPECT_EQ(acl.password.reveal(), "pw");

  EXPECT_EQ(parse_url("redis://:s%40c%2Fret@h").password.reveal(), "s@c/ret");
  // A raw '@' in the password: the last '@' ends the credentials.
  const Endpoint raw_at = parse_url("redis://:p@ss@h:7");
  EXPECT_EQ(raw_at.password.reveal(), "p@ss");
  EXPECT_EQ(raw_at.host, "h");
  EXPECT_EQ(raw_at.port, 7);
}

TEST(RedisUrl, Ipv6AndUnixSockets) {
  const Endpoint v6 = parse_url("redis://[::1]:6390/1");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 6390);
  EXPECT_EQ(v6.db, 1);
  EXPECT_EQ(v6.describe(), "[::1]:6390");

  const Endpoint unix_socket = parse_url("unix:///run/redis/redis.sock?db=3&password=pw");
  EXPECT_EQ(unix_socket.kind, Endpoint::Kind::Unix);
  EXPECT_EQ(unix_socket.path, "/run/redis/redis.sock");
  EXPECT_EQ(unix_socket.db, 3);
  EXPECT_EQ(unix_socket.password.reveal(), "pw");
  EXPECT_EQ(unix_socket.describe(), "/run/redis/redis.sock");
}

TEST(RedisUrl, RejectsMalformedUrlsWithoutQuotingThem) {
  for (const char* url :
       {"http://h:6379", "redis://", "redis://:hunter2@", "redis://h:0", "redis://h:65536", "redis://h:12ab",
        "redis://h/x", "redis://h/-1", "redis://hunter2@h", "redis://::1:6379", "redis://[::1", "redis://h?db=1",
        "unix://relative/path", "unix:///p?hunter2=1", "redis://:hunter2@h:notaport", "redis://:%zzhunter2@h"}) {
    try {
      (void)parse_url(url);
      ADD_FAILURE() << "accepted " << url;
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      EXPECT_TRUE(message.starts_with("redis_url: ")) << message;
      EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    }
  }
}

TEST(RedisClient, BadUrlFailsAtConstruction) {
  EXPECT_THROW(Client("redis://h:0", std::chrono::milliseconds(100)), ConfigError);
}

TEST(RedisClient, UnreachableServerThrowsAndStaysDisconnected) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t length = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  close(fd);
  const std::string port = std::to_string(ntohs(addr.sin_port));

  Client client("redis://:hunter2@127.0.0.1:" + port + "/0", std::chrono::milliseconds(500));
  EXPECT_FALSE(client.connected());  // lazy: nothing happened yet
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      (void)client.command({"PING"});
      ADD_FAILURE() << "PING to a closed port succeeded";
    } catch (const RedisError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("127.0.0.1:" + port), std::string::npos) << message;
      EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    }
    EXPECT_FALSE(client.connected());
  }
}

}  // namespace
}  // namespace wagate::redis
