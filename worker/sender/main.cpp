// main.cpp — wagate-sender: sends queued messages through Twilio's REST API and records every outcome.
#include <atomic>
#include <cstring>
#include <iostream>

#include "sender.hpp"
#include "wagate/config.hpp"
#include "wagate/process.hpp"

int main(int argc, char** argv) {
  using namespace wagate;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::cout << "usage: wagate-sender [--config PATH]\n"
                   "Sends the messages of the Redis send queue through Twilio. SIGTERM drains, SIGHUP reloads.\n";
      return 0;
    }
  }
  // The first TERM/INT drains the transfers in flight, a second one stops at once.
  return process::run_worker("wagate-sender", argc, argv,
                             [](config::Holder& holder, const std::atomic<int>& stop_requests) {
                               sender::Sender sender(holder, stop_requests);
                               return sender.run();
                             });
}
