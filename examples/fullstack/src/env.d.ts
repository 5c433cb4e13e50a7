// Side-effect CSS imports (`import './style.css'`) are handled by the bundler.
declare module '*.css';
