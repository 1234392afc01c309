"""What people and programs see: text, JSON, JUnit and progress."""
