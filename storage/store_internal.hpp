// Store's private pieces shared by its files (writer.cpp, the read_*.cpp files). Internal to
// storage/.
#pragma once

#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <type_traits>

#include "storage/database.hpp"
#include "storage/store.hpp"

namespace smsr {

struct Store::Job {
  std::function<void(WriteTxn&)> fn;
  std::function<void(std::exception_ptr)> on_ran;   // write_then only: called once fn has run
  std::function<void(std::exception_ptr)> on_done;  // optional: called once committed or failed
  RunTwice run_twice = RunTwice::kNever;  // kAllowed for write_then and write_async (see run_batch)
  std::exception_ptr fn_error;                     // what fn threw; set before on_ran
  std::exception_ptr error;                        // fn's error or the batch's; set before `done`
  std::promise<void> done;
  std::shared_future<void> committed;  // `done`, shareable by tickets
  bool ran_signalled = false;          // writer thread only: on_ran's signal is on its way

  bool early() const { return static_cast<bool>(on_ran); }
};

// Borrows a reader connection for the duration of one read.
class Store::ReaderLease {
 public:
  explicit ReaderLease(Store& store) : store_(store), conn_(store.acquire_reader()) {}
  ~ReaderLease() {
    conn_->finish_statements();
    store_.release_reader(std::move(conn_));
  }
  Connection& operator*() { return *conn_; }
  Connection* operator->() { return conn_.get(); }

 private:
  Store& store_;
  std::unique_ptr<Connection> conn_;
};

template <class F>
auto Store::with_reader(const char* context, F&& fn) -> std::invoke_result_t<F&, Connection&> {
  try {
    ReaderLease conn(*this);
    return fn(*conn);
  } catch (const StoreError&) {
    throw;
  } catch (const std::exception& e) {
    rethrow_as_store_error(e, context);
  }
}

}  // namespace smsr
