//! Notifications in shoutrrr URL formats (slack, teams, discord, ...).
