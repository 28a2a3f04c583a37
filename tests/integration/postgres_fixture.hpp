// A throwaway PostgreSQL server standing in for the organisation's central database: a
// real cluster in a temporary directory on a free loopback port, with the central tables
// as the specification describes them (plus a few columns the router must ignore).
//
// The tests run as root and PostgreSQL refuses to, so the cluster belongs to the
// `postgres` system user and every server command runs through `runuser -u postgres`.
// The cluster trusts every local connection: the connection URL needs no password.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace smsr::test {

class PostgresCluster {
 public:
  // How query_rows() shows a NULL value (the same text as psql's `\pset null NULL`).
  static constexpr const char* kNull = "NULL";

  // Creates the cluster, starts it and creates the `central` database with its tables.
  // Throws std::runtime_error (one line) when runuser, the postgres user or the
  // PostgreSQL binaries are missing, or with the server's log when it does not start.
  // Exit status of a test process that skipped itself: no PostgreSQL on this machine.
  static constexpr int kSkipExitCode = 77;

  PostgresCluster();
  // Stops the server (immediate mode, thawing it first if frozen) and removes the
  // directory. Never leaves a server process behind.
  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // libpq connection URL, e.g. postgresql://postgres@127.0.0.1:PORT/central. It has no
  // query string, so callers may append one ("?connect_timeout=2").
  std::string url(const std::string& database = "central") const;
  int port() const { return port_; }
  const std::string& directory() const { return dir_; }

  // Runs SQL (one or several statements, outside any explicit transaction) in `central`
  // on a new connection. Throws pqxx errors as they come.
  void exec(const std::string& sql) const;
  // The first column of the single row the query returns, as an integer; throws unless
  // there is exactly one row and its first value is not NULL.
  std::int64_t query_int(const std::string& sql) const;
  // Every row as text, NULL shown as kNull.
  std::vector<std::vector<std::string>> query_rows(const std::string& sql) const;

  // Inserts the organisation's sms_router_configs rows as the specification lists them
  // (max_sms_length 160, rate_limit_per_minute 10, ...), all active.
  void seed_organisation_configs() const;

  // Stops the server cleanly (fast mode) and starts it again on the same data and port,
  // for restart tests. start() throws if the port was taken in between.
  void stop();
  void start();
  bool running() const { return running_; }

  // SIGSTOP / SIGCONT to the postmaster and all its children: the server keeps its
  // sockets but answers nothing, like a hung host. Only new connections with a
  // connect_timeout (or client-side deadlines) notice; established ones hang.
  void freeze();
  void thaw();

  // Everything the server has written to its log so far.
  std::string server_log() const;

 private:
  std::string data_dir() const { return dir_ + "/data"; }
  std::string internal_url(const std::string& database) const;
  // Runs one PostgreSQL program (as the postgres user when we are root); returns the exit
  // status and leaves its combined output in *output.
  int run_pg(const std::string& program, const std::vector<std::string>& args, std::string* output) const;
  // pg_ctl start on port_; false (with the reason in *why) if the server did not come up.
  bool try_start(std::string* why);
  void create_central_database();
  // The postmaster's pid if it is ours (its command line names our data directory).
  pid_t postmaster_pid() const;
  void kill_leftovers();

  std::string bin_dir_;
  std::string runuser_;  // set when we are root: every command then runs as `postgres`
  std::string dir_;
  int port_ = 0;
  bool running_ = false;
  bool frozen_ = false;
};

}  // namespace smsr::test
