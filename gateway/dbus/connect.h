#pragma once
// Connecting to a bus given by address (`--bus ADDRESS`, LWGATE_BUS): the one place lwgated and
// lwgatectl do it.
//
// sdbus-c++ 1.2's createSessionBusConnectionWithAddress() leaks its sd_bus when the address
// cannot be reached (sd_bus_start fails and the bus is never unreferenced): about 1.8 KB for each
// failed try, and lwgated retries a missing bus every 10 s. So the address is first tried with
// sd-bus directly, which is always closed again; only a reachable address is handed to sdbus-c++.

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-bus.h>

#include <cstring>
#include <memory>
#include <string>

namespace lwgate::dbus {

inline std::unique_ptr<sdbus::IConnection> connectToAddress(const std::string& address) {
  sd_bus* probe = nullptr;
  int r = sd_bus_new(&probe);
  if (r >= 0) r = sd_bus_set_address(probe, address.c_str());
  if (r >= 0) r = sd_bus_start(probe);
  sd_bus_flush_close_unref(probe);
  if (r < 0) {
    throw sdbus::Error("org.freedesktop.DBus.Error.FileNotFound",
                       "Failed to open bus (" + std::string(std::strerror(-r)) + ")");
  }
  return sdbus::createSessionBusConnectionWithAddress(address);
}

}  // namespace lwgate::dbus
