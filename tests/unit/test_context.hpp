// test_context.hpp — a Context over a temporary config file, for handler tests without servers.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "wagate/config.hpp"
#include "wagate/context.hpp"

namespace wagate::test {

// Owns the holder the context refers to; the config points at servers that
// do not exist, so a handler that touches them sees DbError / RedisError.
struct TestContext {
  std::unique_ptr<config::Holder> holder;
  std::unique_ptr<Context> context;
  Context& operator*() { return *context; }
  Context* operator->() { return context.get(); }
};

inline TestContext make_context(const std::string& extra_lines = "") {
  char path[] = "/tmp/wagate-test-XXXXXX";
  const int fd = mkstemp(path);
  if (fd >= 0) close(fd);
  {
    std::ofstream out(path);
    out << "pg_dsn = host=127.0.0.1 port=1 dbname=none connect_timeout=1\n"
        << "redis_url = redis://127.0.0.1:1/0\n"
        << "max_body_bytes = 2048\n"
        << extra_lines;
  }
  TestContext test;
  test.holder = std::make_unique<config::Holder>(path);
  test.context = std::make_unique<Context>(*test.holder);
  std::remove(path);
  return test;
}

}  // namespace wagate::test
