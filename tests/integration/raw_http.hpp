// A bare TCP client for the HTTP edge's tests: bytes out exactly as given (malformed ones
// too), answers parsed as they come back, from a chosen loopback source address.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace smsr::test {

struct RawAnswer {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  std::string header(const std::string& name) const;  // case-insensitive; "" when absent
};

class RawConnection {
 public:
  // Connects to 127.0.0.1:port from `source` (any 127.0.0.x). Throws on failure.
  explicit RawConnection(int port, const std::string& source = "127.0.0.1");
  ~RawConnection();
  RawConnection(RawConnection&& other) noexcept;
  RawConnection& operator=(RawConnection&&) = delete;

  // False once the peer has closed or reset the connection.
  bool send(const std::string& bytes);
  // The next answer, or nullopt if the connection closed or `timeout` passed first.
  std::optional<RawAnswer> read_answer(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True when the peer closes (EOF or reset) within `timeout` with nothing more to read
  // than what was already buffered; data that arrives meanwhile is kept for read_answer.
  bool closed_within(std::chrono::milliseconds timeout);

 private:
  // Reads what is available within `timeout`; false on EOF/reset/timeout without data.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

// The thread count of a process (/proc/PID/status).
int thread_count(int pid);
// Raises this process's open-file limit as far as allowed; returns the new soft limit.
long raise_open_file_limit();

}  // namespace smsr::test
