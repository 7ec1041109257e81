// SqliteDeviceSettingsStore on a real database file.
#include "db/device_settings_store.h"

#include <gtest/gtest.h>

#include "db/database.h"
#include "db/request_store.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace {

class DeviceSettingsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = openDatabase(dir.file("s.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    db.emplace(std::move(*opened));
    auto s = SqliteDeviceSettingsStore::create(db->connection());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store = std::move(*s);
    // A device row, as a Register or a queued request makes one.
    auto requests = SqliteRequestStore::create(db->connection());
    ASSERT_TRUE(requests.ok());
    core::DownlinkRequest r;
    r.endpoint = "dev";
    r.path = "/3/0";
    ASSERT_TRUE((*requests)->insertRequest(r).ok());
  }

  testing::TempDir dir;
  std::optional<Database> db;
  std::unique_ptr<SqliteDeviceSettingsStore> store;
};

TEST_F(DeviceSettingsStoreTest, UnsetUntilSavedThenEveryFieldRoundTrips) {
  auto empty = store->load("dev");
  ASSERT_TRUE(empty.ok() && empty->has_value());
  EXPECT_EQ(**empty, core::DeviceSettings{});
  EXPECT_TRUE(store->loadAll()->empty());

  core::DeviceSettings s;
  s.awakeWindow = core::Millis(12'500);
  s.smsNumber = "+4915112345678";
  s.serverInstance = 3;
  ASSERT_TRUE(store->save("dev", s).ok());
  EXPECT_EQ(**store->load("dev"), s);
  auto all = store->loadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].first, "dev");
  EXPECT_EQ((*all)[0].second, s);

  ASSERT_TRUE(store->save("dev", core::DeviceSettings{}).ok());
  EXPECT_EQ(**store->load("dev"), core::DeviceSettings{});
  EXPECT_TRUE(store->loadAll()->empty());
}

TEST_F(DeviceSettingsStoreTest, UnknownDevicesAreNotFoundAndNotCreated) {
  EXPECT_FALSE(store->load("nobody")->has_value());
  core::DeviceSettings s;
  s.awakeWindow = core::Millis(1000);
  auto saved = store->save("nobody", s);
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(testing::queryInt(db->connection(), "SELECT count(*) FROM devices"), 1);
}

}  // namespace
}  // namespace lwgate::db
