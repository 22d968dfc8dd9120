"""The customer portal: server-rendered pages for customers and platform staff.

Sign in and out; SIP accounts, providers, dialplans (with the editor and its dry run),
transfer defaults, destination policy, call and transfer records, and the live monitor page.
A customer's user sees its own customer's objects; platform staff see and administer all.
"""
