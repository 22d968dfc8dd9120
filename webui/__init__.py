"""The customer portal: server-rendered pages for customers and platform staff.

This is the skeleton the full portal grows from: sign in and out, and a dashboard of the
signed-in customer's SIP accounts, providers and dialplans (staff: every customer's).
"""
