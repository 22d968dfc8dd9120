"""SIP bans for staff: the list of current bans (read from the SIP workers' shared store)
with a "lift ban" action, and the settings of the SIP worker's brute-force defence."""
