// silent_server.hpp — a loopback listener that never accepts, for tests of what a client does when no answer comes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace wagate::test {

// The kernel completes the TCP handshake and queues the connection; nothing
// ever reads or answers, as with a SIGSTOPped postmaster.
class SilentServer {
 public:
  SilentServer() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t length = sizeof addr;
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length), 0);
    port_ = ntohs(addr.sin_port);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  ~SilentServer() { close(fd_); }

  // A libpq DSN for it.
  [[nodiscard]] std::string pg_dsn() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=none user=nobody sslmode=disable";
  }

 private:
  int fd_;
  int port_ = 0;
};

}  // namespace wagate::test
