// Names the calling thread as `top -H`, `ps -L` and `perf` show it, so an operator can see
// which part of the router uses the CPU. Linux keeps at most 15 characters.
#pragma once

#include <pthread.h>

#include <string>

namespace smsr {

inline void name_this_thread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace smsr
