//! The loop: observe -> decide -> act, as a small state machine.
