// error.hpp — the one family of exceptions for infrastructure failures and rejected input.
#pragma once

#include <stdexcept>
#include <string>

namespace wagate {

// Base of every exception libwagate throws. Caught in exactly one place per
// process: the request loop (answers and logs) or main (logs and exits).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ConfigError : public Error { using Error::Error; };
class DbError : public Error { using Error::Error; };
class RedisError : public Error { using Error::Error; };
class HttpError : public Error { using Error::Error; };
class SpoolError : public Error { using Error::Error; };

// A request that is rejected: carries the HTTP status and the public JSON
// error body ({"error": {"code", "message", "field"}}). Messages are written
// for the caller, so they must never contain a secret.
class ApiError : public Error {
 public:
  ApiError(int status, std::string code, std::string message, std::string field = {})
      : Error(message), status_(status), code_(std::move(code)), field_(std::move(field)) {}
  [[nodiscard]] int status() const { return status_; }
  [[nodiscard]] const std::string& code() const { return code_; }
  [[nodiscard]] const std::string& field() const { return field_; }

 private:
  int status_;
  std::string code_;
  std::string field_;
};

}  // namespace wagate
