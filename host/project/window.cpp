// Change windows of an environment (`window = "Mon-Fri 01:00-05:00 UTC"`):
// parsing and "is now inside one of them".
#include <cctype>
#include <ctime>
#include <sstream>
#include <stdexcept>

#include "project/config.hpp"

namespace moonshift::project {

time_window parse_window(const std::string& text) {
    static const char* names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    auto day_of = [](std::string d) {
        for (auto& c : d) c = char(std::tolower(static_cast<unsigned char>(c)));
        for (int i = 0; i < 7; ++i)
            if (d.rfind(names[i], 0) == 0 && d.size() >= 3) return i;
        throw std::invalid_argument("unknown day \"" + d + "\" (Mon, Tue, ... Sun)");
    };
    auto minutes_of = [](const std::string& hm) {
        auto colon = hm.find(':');
        bool digits = hm.find_first_not_of("0123456789:") == std::string::npos;
        if (!digits || colon == std::string::npos || colon == 0 || colon > 2 ||
            hm.size() - colon != 3)
            throw std::invalid_argument("times are HH:MM, not \"" + hm + "\"");
        int h = std::stoi(hm.substr(0, colon)), m = std::stoi(hm.substr(colon + 1));
        if (h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0))
            throw std::invalid_argument("\"" + hm + "\" is not a time of day");
        return h * 60 + m;
    };
    time_window w;
    w.text = text;
    std::istringstream in(text);
    std::vector<std::string> parts;
    for (std::string p; in >> p;) parts.push_back(p);
    if (!parts.empty() && (parts.back() == "UTC" || parts.back() == "utc")) {
        w.utc = true;
        parts.pop_back();
    }
    if (parts.size() == 2) {
        w.days = 0;
        std::istringstream ds(parts[0]);
        for (std::string item; std::getline(ds, item, ',');) {
            auto dash = item.find('-');
            int a = day_of(item.substr(0, dash)),
                b = dash == std::string::npos ? a : day_of(item.substr(dash + 1));
            for (int d = a;; d = (d + 1) % 7) {
                w.days |= 1u << d;
                if (d == b) break;
            }
        }
        parts.erase(parts.begin());
    }
    if (parts.size() != 1) throw std::invalid_argument("expected [DAYS] HH:MM-HH:MM [UTC]");
    auto dash = parts[0].find('-');
    if (dash == std::string::npos) throw std::invalid_argument("expected HH:MM-HH:MM");
    try {
        w.start_min = minutes_of(parts[0].substr(0, dash));
        w.end_min = minutes_of(parts[0].substr(dash + 1));
    } catch (const std::out_of_range&) {
        throw std::invalid_argument("expected HH:MM-HH:MM");
    }
    if (w.start_min == w.end_min) throw std::invalid_argument("the window is empty");
    return w;
}

bool in_window(const std::vector<time_window>& window, std::chrono::system_clock::time_point now) {
    if (window.empty()) return true;
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    for (auto& w : window) {
        std::tm tm{};
        if (w.utc)
            gmtime_r(&t, &tm);
        else
            localtime_r(&t, &tm);
        int minute = tm.tm_hour * 60 + tm.tm_min;
        int today = (tm.tm_wday + 6) % 7;  // Monday = 0
        if (w.start_min < w.end_min) {
            if ((w.days >> today & 1u) && minute >= w.start_min && minute < w.end_min) return true;
        } else {
            // Wraps past midnight: the evening belongs to the day it starts on.
            int yesterday = (today + 6) % 7;
            if ((w.days >> today & 1u) && minute >= w.start_min) return true;
            if ((w.days >> yesterday & 1u) && minute < w.end_min) return true;
        }
    }
    return false;
}

}  // namespace moonshift::project
