// Names threads as `top -H`, `ps -L` and `perf` show them, so an operator can see which
// part of the router uses the CPU. Linux keeps at most 15 characters.
#pragma once

#include <pthread.h>

#include <string>
#include <thread>
#include <utility>

namespace smsr {

inline void name_this_thread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

// A thread running `body` under `name`.
template <class Body>
std::thread named_thread(std::string name, Body body) {
  return std::thread([name = std::move(name), body = std::move(body)]() mutable {
    name_this_thread(name);
    body();
  });
}

}  // namespace smsr
