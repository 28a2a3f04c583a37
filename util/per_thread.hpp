// One object per (owner, thread), for things that must not be shared between threads but
// are worth keeping between calls (an HTTP client and its keep-alive connection).
#pragma once

#include <memory>
#include <unordered_map>

namespace smsr {

// The calling thread's T for `owner`, made by `make()` on its first use on this thread. The
// objects live until their thread ends; an owner must outlive the threads that use it, or
// a later owner at the same address would get its predecessor's objects.
template <class T, class Owner, class Make>
T& per_thread(const Owner* owner, Make&& make) {
  thread_local std::unordered_map<const Owner*, std::unique_ptr<T>> objects;
  auto& object = objects[owner];
  if (!object) object = make();
  return *object;
}

}  // namespace smsr
