"""ejabberd's external authentication protocol, answered by wschats (`wschats xmpp-auth`)."""
