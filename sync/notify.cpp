#include "sync/notify.hpp"

#include <chrono>

#include <pqxx/pqxx>

#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "sync/central.hpp"

namespace smsr {
namespace {

const char* const kTables[] = {"users", "user_phone_mappings", "sms_router_configs"};

std::string connect_url(const std::string& url) {
  bool uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!uri) return url + " connect_timeout=5 application_name=sms-router-listener";
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5&application_name=sms-router-listener";
}

template <class F>
void on_central(const std::string& url, const char* what, F&& fn) {
  try {
    pqxx::connection conn(connect_url(url));
    pqxx::work t(conn);
    fn(t);
    t.commit();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    throw CentralError(std::string(what) + " on " + redact_url(url) + ": " + msg.substr(0, msg.find('\n')));
  }
}

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection& c, const std::function<void()>& on_change)
      : pqxx::notification_receiver(c, kChangeChannel), on_change_(on_change) {}
  void operator()(const std::string&, int) override { on_change_(); }

 private:
  const std::function<void()>& on_change_;
};

}  // namespace

void install_notify(const std::string& url) {
  on_central(url, "installing change notifications", [](pqxx::work& t) {
    t.exec(
        "CREATE TABLE IF NOT EXISTS sms_router_changes ("
        " seq bigserial PRIMARY KEY, table_name text NOT NULL, row_id bigint,"
        " changed_at timestamptz NOT NULL DEFAULT now())");
    // The log keeps a day of changes: enough to see what happened, bounded for ever.
    t.exec(
        "CREATE OR REPLACE FUNCTION sms_router_note_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "  INSERT INTO sms_router_changes (table_name, row_id) "
        "    VALUES (TG_TABLE_NAME, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END); "
        "  DELETE FROM sms_router_changes WHERE changed_at < now() - interval '1 day'; "
        "  PERFORM pg_notify('" + std::string(kChangeChannel) + "', TG_TABLE_NAME); "
        "  RETURN NULL; "
        "END $$");
    for (const char* table : kTables) {
      std::string trigger = std::string("sms_router_") + table + "_changed";
      t.exec("DROP TRIGGER IF EXISTS " + trigger + " ON " + table);
      t.exec("CREATE TRIGGER " + trigger + " AFTER INSERT OR UPDATE OR DELETE ON " + table +
             " FOR EACH ROW EXECUTE FUNCTION sms_router_note_change()");
    }
  });
}

void uninstall_notify(const std::string& url) {
  on_central(url, "removing change notifications", [](pqxx::work& t) {
    for (const char* table : kTables) {
      t.exec(std::string("DROP TRIGGER IF EXISTS sms_router_") + table + "_changed ON " + table);
    }
    t.exec("DROP FUNCTION IF EXISTS sms_router_note_change()");
    t.exec("DROP TABLE IF EXISTS sms_router_changes");
  });
}

ChangeListener::ChangeListener(std::string url, std::function<void()> on_change)
    : url_(std::move(url)), on_change_(std::move(on_change)) {}

ChangeListener::~ChangeListener() { stop(); }

void ChangeListener::start() {
  thread_ = named_thread("sync-listen", [this] { loop(); });
}

void ChangeListener::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void ChangeListener::loop() {
  int failures = 0;
  while (!stopping_) {
    try {
      pqxx::connection conn(connect_url(url_));
      Receiver receiver(conn, on_change_);
      if (failures > 0) LOG_INFO("sync.listener_reconnected");
      failures = 0;
      // A change may have happened while we were not listening: one round catches up.
      on_change_();
      while (!stopping_) conn.await_notification(1, 0);  // wakes at least once a second to see stop
    } catch (const std::exception& e) {
      if (failures++ == 0) {
        std::string msg = e.what();
        LOG_WARN("sync.listener_lost", {"error", msg.substr(0, msg.find('\n'))},
                 {"hint", "polling continues; reconnecting"});
      }
      for (int i = 0; i < std::min(failures, 10) * 10 && !stopping_; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
}

}  // namespace smsr
