#pragma once
// Quantities with units in YAML: "16 MiB", "400 GiB/s", "940 MHz". A plain number is in the base unit
// (bytes, bytes per second, hertz).
#include <string>

#include "common/yaml.hpp"

namespace einsim {

double parse_bytes(const YNode& node);      // B, KiB, MiB, GiB, KB, MB, GB, b (bits), Kib, Mib
double parse_bandwidth(const YNode& node);  // bytes/s: B/s, KiB/s, MiB/s, GiB/s, KB/s, MB/s, GB/s, TB/s
double parse_frequency(const YNode& node);  // Hz, kHz, MHz, GHz
double parse_duration(const YNode& node);   // seconds: ps, ns, us, ms, s

std::string format_bytes(double bytes);  // "16 MiB", "512 KiB", "3.5 GiB"

}  // namespace einsim
