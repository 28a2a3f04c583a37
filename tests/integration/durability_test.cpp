// Guarantee 2 under a full disk: the router never answers 200 for a message that is not on
// disk; it answers 503 (Twilio does not retry silently, so this is logged loudly).
#include <SQLiteCpp/Database.h>
#include <sys/mount.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "tests/integration/harness.hpp"

using namespace smsr;
using namespace smsr::test;

namespace {

// A small tmpfs of its own, so "disk full" is real and hurts nobody else. Needs root (CI
// runs as root); elsewhere the test says why it did nothing.
class SmallDisk {
 public:
  SmallDisk(const std::string& path, const std::string& size) : path_(path) {
    std::filesystem::create_directories(path);
    mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string path_;
  bool mounted_ = false;
};

}  // namespace

TEST_CASE("when the disk fills up webhooks get 503 and every message answered 200 is on disk") {
  TempDir dir;
  SmallDisk disk(dir.file("disk"), "3m");
  if (!disk.mounted()) {
    WARN("cannot mount a tmpfs (needs root): disk-full behaviour not exercised here");
    return;
  }
  auto config = base_config(dir);
  config["database"]["path"] = dir.file("disk/router.db");
  Service service(dir, config);
  REQUIRE(service.cli({"users", "add", "--id", "1", "--phone", "+15145550101"}).status == 0);
  service.start();

  std::set<std::string> ok, refused;
  int other = 0;
  const std::string big(8000, 'x');
  for (int i = 0; i < 2000 && refused.size() < 5; ++i) {
    Sms sms("+15145550101", big + std::to_string(i));
    sms.sid = new_message_sid();
    auto answer = post_webhook(service.port(), sms_fields(sms));
    if (answer.status == 200) ok.insert(sms.sid);
    else if (answer.status == 503) refused.insert(sms.sid);
    else if (++other == 1) WARN("unexpected answer " << answer.status << ": " << answer.body);
  }
  CHECK(ok.size() > 10);
  CHECK(refused.size() >= 5);
  CHECK(other == 0);
  service.kill9();
  CHECK(service.log().find("event=http.storage_unavailable") != std::string::npos);

  SQLite::Database db(dir.file("disk/router.db"), SQLite::OPEN_READONLY);
  SQLite::Statement find(db, "SELECT count(*) FROM inbound_messages WHERE message_sid = ?");
  auto stored = [&](const std::string& sid) {
    find.reset();
    find.bind(1, sid);
    find.executeStep();
    return find.getColumn(0).getInt() == 1;
  };
  for (const auto& sid : ok) CHECK(stored(sid));
  for (const auto& sid : refused) CHECK_FALSE(stored(sid));
}
