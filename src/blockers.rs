//! What holds a reboot back: firing Prometheus alerts, blocking pods.
