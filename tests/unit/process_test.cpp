// process_test.cpp — what every daemon starts with: no core dumps, not dumpable, signals blocked for every thread.
#include "wagate/process.hpp"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <thread>

namespace wagate::process {
namespace {

// Runs check in a child process (what it changes is process-wide and cannot
// be undone) and returns the child's exit code: 0 when every check held.
int in_child(const std::function<int()>& check) {
  const pid_t child = fork();
  if (child == 0) _exit(check());
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(ProtectMemory, NoCoreFileAndNotDumpable) {
  EXPECT_EQ(in_child([] {
              protect_memory();
              rlimit core{};
              if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0) return 1;
              if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) return 2;
              return 0;
            }),
            0)
      << "1: RLIMIT_CORE is not 0; 2: the process is still dumpable";
}

TEST(StartDaemon, ThreadsStartedLaterHaveTheDaemonSignalsBlocked) {
  EXPECT_EQ(in_child([] {
              const sigset_t waited = start_daemon();
              int result = 0;
              std::thread([&] {
                sigset_t mask;
                pthread_sigmask(SIG_BLOCK, nullptr, &mask);
                for (const int signal_number : {SIGTERM, SIGINT, SIGHUP}) {
                  if (sigismember(&mask, signal_number) != 1) result = 1;
                  if (sigismember(&waited, signal_number) != 1) result = 2;
                }
              }).join();
              if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) result = 3;
              return result;
            }),
            0)
      << "1: a thread does not block TERM/INT/HUP; 2: the set to wait for lacks one; 3: dumpable";
}

}  // namespace
}  // namespace wagate::process
